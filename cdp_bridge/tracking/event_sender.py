"""Server-side tracking requests, sent in the background by a few threads, within bounds.

Nothing that tracks waits for Raptor's tracking endpoint: requests wait in a queue of at most
``max_pending`` and are sent by ``workers`` threads, each over its own pooled connection, each
request within ``timeout`` seconds. When the endpoint cannot be reached (a timeout, a refused
connection), the events of the next ``pause_after_failure`` seconds are dropped instead of each
waiting out its timeout, so an outage neither piles events up nor holds a stopping process.
Tracking is a best effort: an event that cannot be sent is dropped, never retried.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from time import monotonic

import requests

from cdp_bridge.http_sessions import thread_session

logger = logging.getLogger("cdp_bridge.tracking")

TIMEOUT = 5.0  # seconds, per request; Raptor documents none
WORKERS = 2
MAX_PENDING = 1000  # events waiting to be sent; beyond this, new ones are dropped
PAUSE_AFTER_FAILURE = 30.0  # seconds without requests after the endpoint could not be reached


class EventSender:
    """Sends tracking requests on a few worker threads, with a bound on how many may wait."""

    def __init__(
        self,
        workers: int = WORKERS,
        max_pending: int = MAX_PENDING,
        *,
        timeout: float = TIMEOUT,
        pause_after_failure: float = PAUSE_AFTER_FAILURE,
    ) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.timeout = timeout
        self.pause_after_failure = pause_after_failure
        self._pending = 0
        self._dropping = False
        self._paused_until = 0.0  # a monotonic time
        self._changed = threading.Condition()
        self._executor: ThreadPoolExecutor | None = None  # started on first use, after any fork

    def submit(self, url: str, parameters: dict[str, str], event_type: str) -> bool:
        """Queue one request; False when it is dropped (the queue is full, or sending paused)."""
        with self._changed:
            if self._paused():
                return False  # the pause was announced when it began
            if self._pending >= self.max_pending:
                if not self._dropping:
                    logger.warning(
                        "%d tracking events are waiting for Raptor: new events are dropped "
                        "until they have been sent.",
                        self._pending,
                    )
                self._dropping = True
                return False
            self._pending += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="cdp-track")
            executor = self._executor
        executor.submit(self._send, url, parameters, event_type)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing is pending; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def _send(self, url: str, parameters: dict[str, str], event_type: str) -> None:
        try:
            with self._changed:
                if self._paused():
                    return  # queued before the endpoint failed: dropped with the others
            response = thread_session().get(url, params=parameters, timeout=self.timeout)
        except requests.RequestException as error:
            self._pause(url, event_type, error)
        else:
            if response.status_code >= 400:
                logger.warning(
                    "Raptor's tracking endpoint %s answered %d to a %r event.",
                    url,
                    response.status_code,
                    event_type,
                )
            else:
                logger.debug("GET %s (%s event) -> %d", url, event_type, response.status_code)
        finally:
            with self._changed:
                self._pending -= 1
                if self._pending == 0:
                    self._dropping = False
                self._changed.notify_all()

    def _paused(self) -> bool:
        return monotonic() < self._paused_until

    def _pause(self, url: str, event_type: str, error: requests.RequestException) -> None:
        with self._changed:
            if self._paused():
                return  # another worker's request failed first and said so
            self._paused_until = monotonic() + self.pause_after_failure
        # Neither the query (user ids) nor the exception's text (which repeats it) is logged.
        logger.warning(
            "A %r tracking event did not reach %s: %s. Tracking events are dropped for %g s.",
            event_type,
            url,
            type(error).__name__,
            self.pause_after_failure,
        )
