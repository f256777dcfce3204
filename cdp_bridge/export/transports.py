"""Transports: where batches go. ``stream_file`` (the CDP's Streaming API), ``file``, ``memory``.

The Streaming API *(Raptor)*: ``POST {stream_base_url}/stream/{account_number}`` with the
headers ``x-streamid`` and, for a draft, ``x-isdraft: true``; the body is a JSON array of rows.
Person data is upserted, so a batch sent twice is harmless: transient failures are retried.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from threading import Event
from time import monotonic
from typing import Any, Protocol

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.exceptions import BatchRejected, CdpUnavailable, ExportError
from cdp_bridge.export.batches import Batch
from cdp_bridge.http_sessions import body_excerpt, new_session
from cdp_bridge.redaction import mask_secret

logger = logging.getLogger("cdp_bridge.export")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
STATUS_HINTS = {
    400: gettext_lazy(
        "The CDP refused the rows: compare them with the stream's schema in the Data Manager "
        "(a schema can only gain columns)."
    ),
    401: gettext_lazy("Check the account_number and the stream id (Data Manager > Stream file)."),
    403: gettext_lazy("Check the account_number and the stream id (Data Manager > Stream file)."),
    404: gettext_lazy("Check stream_base_url and the account_number."),
    413: gettext_lazy("Lower max_batch_bytes or batch_size."),
}


class Transport(Protocol):
    """Sends batches somewhere; ``destination`` says where, for people."""

    destination: str

    def send(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, within a budget of time per batch.

    Waits start at 0.5 s and double up to 30 s; the CDP's ``Retry-After`` is honoured up to
    ``max_retry_after``. A batch is tried again until the next wait would end past ``budget``
    seconds after its first attempt (``stream_file.retry_budget``).
    """

    budget: float = 600.0
    max_retry_after: float = 120.0
    first_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based); the CDP's Retry-After wins."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling: float = min(self.max_delay, self.first_delay * 2 ** (retry - 1))
        # Jitter spreads the retries of many exporters; S311: not for cryptography.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311


class RetryClock:
    """The time retries are counted and waited in; a test puts a clock of its own here."""

    def now(self) -> float:
        return monotonic()

    def wait(self, seconds: float, stop: Event) -> None:
        """Wait ``seconds``, or less if ``stop`` is set (the run is over: end the wait now)."""
        stop.wait(seconds)


retry_clock = RetryClock()


class StreamFileTransport:
    """The CDP's Streaming API over one pooled HTTP session, with retries and DEBUG logging."""

    def __init__(
        self,
        *,
        base_url: str,
        account_number: int,
        stream_id: str,
        draft: bool,
        connect_timeout: float,
        read_timeout: float,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/stream/{account_number}"
        self.stream_id = stream_id
        self.draft = draft
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry
        self.destination = f"stream {mask_secret(stream_id)}"
        self.closed = False
        self.stopped = Event()
        self.session = new_session()
        self.session.headers.update({"x-streamid": stream_id, "Content-Type": "application/json"})
        if draft:
            self.session.headers["x-isdraft"] = "true"
        # The request is prepared once, with the proxies and CA bundle of the environment,
        # instead of on every post: that is a third of the client's time per batch.
        environment = self.session.merge_environment_settings(self.url, {}, None, None, None)
        self.session.proxies.update(environment["proxies"])
        self.session.verify = environment["verify"]
        self.session.trust_env = False
        self.request = self.session.prepare_request(requests.Request("POST", self.url))

    def send(self, batch: Batch) -> None:
        clock = retry_clock
        first_attempt = clock.now()
        attempt = 0
        while True:
            attempt += 1
            problem, retry_after = self.attempt(batch)
            if problem is None:
                return
            delay = self.retry.delay(attempt, retry_after)
            spent = clock.now() - first_attempt
            if spent + delay > self.retry.budget or self.closed:
                # ``problem`` is also logged: it stays English, the sentence around it does not.
                raise CdpUnavailable(
                    _(
                        "The CDP at %(url)s did not accept batch %(number)d within the retry "
                        "budget of %(budget)s s (%(attempts)d attempts in %(spent)s s; last: "
                        "%(problem)s). Check that it is reachable; rows acknowledged so far are "
                        "recorded, so --resume continues after them."
                    )
                    % {
                        "url": self.url,
                        "number": batch.number,
                        "budget": f"{self.retry.budget:g}",
                        "attempts": attempt,
                        "spent": f"{spent:.0f}",
                        "problem": problem,
                    }
                )
            if retry_after is not None and retry_after > delay:
                logger.warning(
                    "The CDP asked to wait %g s before batch %d is sent again (Retry-After); "
                    "waiting %g s, the most stream_file.max_retry_after allows",
                    retry_after,
                    batch.number,
                    delay,
                )
            logger.warning(
                "POST %s stream=%s: %s; retrying batch %d in %.1f s (attempt %d; %.0f s of "
                "the %g s retry budget left)",
                self.url,
                mask_secret(self.stream_id),
                problem,
                batch.number,
                delay,
                attempt + 1,
                self.retry.budget - spent - delay,
                self.retry.budget,
            )
            clock.wait(delay, self.stopped)
            if self.closed:
                raise CdpUnavailable(
                    _("Batch %(number)d was not sent: the run stopped.") % {"number": batch.number}
                )

    def attempt(self, batch: Batch) -> tuple[str | None, float | None]:
        """Post the batch once: ``(None, None)`` if accepted, else what went wrong and Retry-After.

        A status that retrying cannot fix raises BatchRejected.
        """
        request = self.request.copy()
        request.prepare_body(batch.body, None)
        started = monotonic()
        try:
            response = self.session.send(request, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as error:
            self.log(batch, "timeout", started)
            return f"timed out ({type(error).__name__})", None
        except requests.ConnectionError as error:
            self.log(batch, "connection error", started)
            return f"connection failed ({_root_cause(error)})", None
        except requests.RequestException as error:  # e.g. the answer was cut off mid-way
            self.log(batch, "failed", started)
            return f"request failed ({type(error).__name__})", None
        self.log(batch, str(response.status_code), started)
        status = response.status_code
        if 200 <= status < 300:
            return None, None
        if status in RETRY_STATUSES:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            asked = f" (Retry-After: {retry_after:g} s)" if retry_after is not None else ""
            return f"HTTP {status}{asked}", retry_after
        excerpt = body_excerpt(response, replacements={self.stream_id: mask_secret(self.stream_id)})
        hint = STATUS_HINTS.get(status, "")
        rejected = _(
            "The CDP rejected batch %(number)d with HTTP %(status)d %(reason)s: %(body)s"
        ) % {
            "number": batch.number,
            "status": status,
            "reason": response.reason,
            "body": excerpt.strip() or _("(empty body)"),
        }
        raise BatchRejected(f"{rejected} {hint}".rstrip())

    def log(self, batch: Batch, outcome: str, started: float) -> None:
        # The stream id is a secret: only its masked form is ever logged.
        logger.debug(
            "POST %s stream=%s draft=%s -> %s rows=%d bytes=%d in %.3f s",
            self.url,
            mask_secret(self.stream_id),
            str(self.draft).lower(),
            outcome,
            batch.rows,
            len(batch.body),
            monotonic() - started,
        )

    def close(self) -> None:
        """End the session; a send still retrying (the run has stopped) gives up at once."""
        self.closed = True
        self.stopped.set()
        self.session.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds, or an HTTP date); None when it
    asks for no wait at all (``0``, a date already past) or cannot be read.

    None means the usual backoff: retrying at once, as a wait of 0 would, retries again and
    again in a hot loop against a CDP that is down, until the retry budget is spent.
    """
    if not value:
        return None
    if value.strip().isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, of unknown origin (RFC 5322)
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if seconds > 0 else None


def _root_cause(error: BaseException) -> str:
    """The innermost reason of a requests error (refused, reset ...), for a one-line message."""
    reason: BaseException = error
    while True:
        inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException) and reason.args:
            inner = reason.args[-1]
        if not isinstance(inner, BaseException) or inner is reason:
            return str(reason) or type(reason).__name__
        reason = inner


class FileTransport:
    """Writes each batch as a JSON file: for inspecting an export without a CDP account.

    ``directory`` is the run's own: it must not exist yet, so an earlier export is never
    overwritten.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            directory.mkdir()
        except FileExistsError:
            raise ExportError(
                _(
                    "The export directory %(directory)s already exists: another export wrote "
                    "there, and it is never overwritten. Run the export again (it picks a new "
                    "directory), or give each site its own file.directory."
                )
                % {"directory": directory}
            ) from None
        except OSError as error:
            raise ExportError(
                _("Cannot create the export directory %(directory)s: %(error)s")
                % {"directory": directory, "error": error}
            ) from error
        self.destination = str(directory)

    def send(self, batch: Batch) -> None:
        path = self.directory / f"batch-{batch.number:06d}.json"
        partial = path.with_name(path.name + ".partial")
        try:
            partial.write_bytes(batch.body)
            partial.replace(path)  # a reader never sees half a batch
        except OSError as error:
            raise ExportError(
                _("Cannot write %(path)s: %(error)s") % {"path": path, "error": error}
            ) from error

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SentBatch:
    """One batch the ``memory`` transport kept: what the CDP would have received."""

    kind: str
    scope: str
    source: str
    stream_id: str
    draft: bool
    body: bytes

    @property
    def rows(self) -> list[dict[str, Any]]:
        return json.loads(self.body)  # type: ignore[no-any-return]


outbox: list[SentBatch] = []
"""Batches sent by the ``memory`` transport, oldest first; see ``cdp_bridge.testing``."""


class MemoryTransport:
    """Keeps batches in ``outbox``: for tests of a site's own export configuration."""

    destination = "the memory outbox (cdp_bridge.testing.outbox)"

    def __init__(self, *, kind: str, scope: str, source: str, stream_id: str, draft: bool) -> None:
        self.template = SentBatch(kind, scope, source, stream_id, draft, b"")

    def send(self, batch: Batch) -> None:
        outbox.append(replace(self.template, body=batch.body))

    def close(self) -> None:
        pass
