"""Server-side tracking: events that happen outside the browser, sent to Raptor in the background.

Raptor ("Server-side Tracking", content.raptorservices.com): one GET request per event,
``{server_url}/{account number}.rsa?p1=...&p2=...&coid=<cookie id>&sid=<session id>&ruid=<user id,
base64>``, every parameter URL-encoded. The request is made on a worker thread after the current
transaction commits, so a response never waits for Raptor, and an order that rolls back is never
reported as bought.
"""

from __future__ import annotations

import base64
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import requests
from django.db import transaction

from cdp_bridge import USER_AGENT, conf
from cdp_bridge.conf import ScopeSettings
from cdp_bridge.tracking import event_parameters, tracked_user_id

if TYPE_CHECKING:
    from django.http import HttpRequest

    from cdp_bridge.segmentation import AnyUser

logger = logging.getLogger("cdp_bridge.tracking")

TIMEOUT = 5.0  # seconds, per request; Raptor documents none
WORKERS = 2
MAX_PENDING = 1000  # events waiting to be sent; beyond this, new ones are dropped


def track(
    event_type: str,
    item: object = None,
    *,
    request: HttpRequest | None = None,
    scope: str | ScopeSettings | None = None,
    user: AnyUser | None = None,
    cookie_id: str | None = None,
    session_id: str | None = None,
    **values: Any,
) -> bool:
    """Send one tracking event from the server; False when the scope does not track.

    ``event_type``, ``item`` and ``values`` are those of ``{% cdp_track_event %}``. The visitor
    comes from ``request`` (its user and Raptor cookie) or is given: a payment provider's
    callback is not the visitor's request, so pass the ``user`` and ``cookie_id`` saved with the
    order. Consent is the caller's to check: this sends what it is given.
    """
    if isinstance(scope, ScopeSettings):
        settings = scope
    elif scope is not None:
        settings = conf.get_scope(scope)
    elif request is not None:
        settings = conf.scope_for_request(request)
    else:
        settings = conf.get_scope()
    tracking = settings.tracking
    if not tracking.enabled or settings.account_number is None:
        return False
    if request is not None:
        user = user or getattr(request, "user", None)
        cookie_id = cookie_id or request.COOKIES.get(tracking.cookie_name)
    parameters = event_parameters(settings, event_type, item, user=user, **values)
    identities = {"coid": cookie_id, "sid": session_id, "ruid": _ruid(user, settings)}
    parameters |= {name: value for name, value in identities.items() if value}
    url = f"{tracking.server_url.rstrip('/')}/{settings.account_number}.rsa"
    transaction.on_commit(partial(sender.submit, url, parameters, event_type))
    return True


def flush(timeout: float | None = None) -> bool:
    """Wait until every queued event has been sent (for scripts that exit, and tests)."""
    return sender.flush(timeout)


def _ruid(user: AnyUser | None, scope: ScopeSettings) -> str | None:
    # Raptor: "ruid - a base64 encoded userid".
    user_id = tracked_user_id(user, scope)
    return base64.b64encode(user_id.encode()).decode() if user_id else None


class BackgroundSender:
    """Sends tracking requests on a few worker threads, with a bound on how many may wait."""

    def __init__(self, workers: int = WORKERS, max_pending: int = MAX_PENDING) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self._pending = 0
        self._dropping = False
        self._changed = threading.Condition()
        self._executor: ThreadPoolExecutor | None = None  # started on first use, after any fork

    def submit(self, url: str, parameters: dict[str, str], event_type: str) -> bool:
        """Queue one request; False (and one warning until the queue drains) when it is full."""
        with self._changed:
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
            response = requests.get(
                url, params=parameters, headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            # Neither the query (user ids) nor the exception's text (which repeats it) is logged.
            logger.warning(
                "A %r tracking event did not reach %s: %s.", event_type, url, type(error).__name__
            )
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


sender = BackgroundSender()
