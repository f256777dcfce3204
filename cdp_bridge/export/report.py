"""What people see of a run: a progress bar on a terminal, a line per batch, the summary.

The bar is redrawn in place on one line. Log records written to the same terminal while it is
shown (a retry warning, from the thread that sends the batches) would land in the middle of
that line, so each terminal log handler writes through the bar meanwhile: the bar's line is
cleared before a record and redrawn below it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from time import monotonic
from typing import IO, Any

from django.core.management.base import OutputWrapper
from django.core.management.color import Style
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from cdp_bridge.export.batches import Batch
from cdp_bridge.local_time import local_time
from cdp_bridge.models import ExportRun

ROWS = {
    "user": ngettext_lazy("%(count)d user", "%(count)d users", "count"),
    "content": ngettext_lazy("%(count)d content item", "%(count)d content items", "count"),
    "product": ngettext_lazy("%(count)d product", "%(count)d products", "count"),
}
ROWS_OF_TOTAL = {
    "user": ngettext_lazy("%(done)d/%(count)d user", "%(done)d/%(count)d users", "count"),
    "content": ngettext_lazy(
        "%(done)d/%(count)d content item", "%(done)d/%(count)d content items", "count"
    ),
    "product": ngettext_lazy("%(done)d/%(count)d product", "%(done)d/%(count)d products", "count"),
}
BAR_WIDTH = 24
BAR_INTERVAL = 0.1  # seconds between redraws: a terminal cannot show more


def summary(run: ExportRun) -> str:
    """``Streamed 1000000 users in 1000 batches to stream 0000…0000 (full) in 41.2 s (…)``."""
    seconds = run.duration.total_seconds() if run.duration else 0.0
    text = _("Streamed %(rows)s in %(batches)s to %(destination)s (%(mode)s) in %(seconds).1f s")
    line = text % {
        "rows": ROWS[run.kind] % {"count": run.rows},
        "batches": ngettext("%(count)d batch", "%(count)d batches", run.batches)
        % {"count": run.batches},
        "destination": run.destination,
        "mode": _("draft") if run.draft else _("full"),
        "seconds": seconds,
    }
    if seconds > 0:
        line = f"{line} ({_rate(run.rows, seconds)})"
    if run.skipped:
        line += _("; skipped %(rows)s without an id (no person identifier)") % {
            "rows": ROWS[run.kind] % {"count": run.skipped}
        }
    return line


def resumption(run: ExportRun) -> str | None:
    """Which run a ``--resume`` continues, and from where; None for a run that resumes none.

    An interrupted run also says when its heartbeat stopped, and how long ago: whether its
    process died a minute ago or last week is what a person deciding to resume wants to know.
    """
    resumed = run.resumed_from
    if resumed is None:
        return None
    values = {
        "pk": resumed.pk,
        "status": resumed.get_status_display(),
        "started": local_time(resumed.started_at),
        "rows": ROWS[run.kind] % {"count": resumed.rows},
        "key": resumed.last_acknowledged_key,
    }
    if resumed.status == ExportRun.Status.INTERRUPTED:
        return _(
            "Continuing export run %(pk)d (%(status)s, started %(started)s; its heartbeat "
            "stopped at %(heartbeat)s, %(ago)s ago) after the %(rows)s it sent, from key "
            "%(key)s."
        ) % {
            **values,
            "heartbeat": local_time(resumed.heartbeat_at),
            # timesince() joins its words with no-break spaces; a log reads plain ones.
            "ago": timesince(resumed.heartbeat_at, timezone.now()).replace("\xa0", " "),
        }
    return (
        _(
            "Continuing export run %(pk)d (%(status)s, started %(started)s) after the %(rows)s it "
            "sent, from key %(key)s."
        )
        % values
    )


def _rate(rows: int, seconds: float) -> str:
    """The rate as the bar and the summary both show it, so that the two agree."""
    return _("%(rate).0f rows/s") % {"rate": rows / seconds if seconds > 0 else 0.0}


def _rows(count: int) -> str:
    return ngettext("%(count)d row", "%(count)d rows", count) % {"count": count}


class ProgressReport:
    """An ExportObserver writing to a command's output; used as a context manager around the run.

    ``notes``: which run a ``--resume`` continues. ``bar``: a progress bar redrawn in place
    (rows, rows/s, ETA), for a terminal; log records written to the terminal meanwhile step
    around it. ``lines``: one line per batch, for logs (``-v 2``). ``payloads``: each batch's
    JSON too (``-v 3``, like Ibexa's ``-vv``).
    """

    def __init__(
        self,
        out: OutputWrapper,
        style: Style,
        *,
        notes: bool,
        bar: bool,
        lines: bool,
        payloads: bool,
    ) -> None:
        self.out = out
        self.style = style
        self.notes = notes
        self.bar = bar
        self.lines = lines
        self.payloads = payloads
        self.total: int | None = None
        self.drawn_at = 0.0
        self.line = BarLine(out)
        self.showing = ExitStack()

    def __enter__(self) -> ProgressReport:
        if self.bar:
            self.showing.enter_context(log_records_around(self.line))
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Leave the bar's line (what follows starts on a line of its own), let records be."""
        self.line.end()
        self.showing.close()

    def started(self, run: ExportRun, count_rows: Callable[[], int]) -> None:
        note = resumption(run)
        if self.notes and note:
            self.out.write(self.style.NOTICE(note))
        if self.bar:
            self.total = count_rows()
            self.draw(run, force=True)

    def batch_sent(self, run: ExportRun, batch: Batch, seconds: float) -> None:
        if self.lines:
            self.out.write(
                _(
                    "Batch %(number)d: %(rows)s, %(bytes)s, accepted in %(seconds).3f s "
                    "(%(so_far)s so far)"
                )
                % {
                    "number": batch.number,
                    "rows": _rows(batch.rows),
                    "bytes": ngettext("%(count)d byte", "%(count)d bytes", len(batch.body))
                    % {"count": len(batch.body)},
                    "seconds": seconds,
                    "so_far": _rows(run.rows),
                }
            )
        if self.payloads:
            self.out.write(batch.body.decode())
        if self.bar:
            self.draw(run)

    def finished(self, run: ExportRun) -> None:
        """The bar's last state: every row sent, at the rate and in the time of the summary."""
        if self.bar:
            self.total = run.rows
            self.draw(run, force=True)

    def draw(self, run: ExportRun, *, force: bool = False) -> None:
        done = run.rows
        total = max(self.total or 0, done)  # rows added while the export runs
        now = monotonic()
        if not force and now - self.drawn_at < BAR_INTERVAL and done != total:
            return
        self.drawn_at = now
        # Timed from the run's start, as the summary is, so that the two rates agree.
        ended = run.finished_at or timezone.now()
        elapsed = max((ended - run.started_at).total_seconds(), 0.0)
        share = done / total if total else 1.0
        filled = round(BAR_WIDTH * share)
        if done >= total:
            when = _("in %(seconds).1f s") % {"seconds": elapsed}
        elif done and elapsed:
            left = timedelta(seconds=round((total - done) * elapsed / done))
            when = _("ETA %(eta)s") % {"eta": left}
        else:
            when = _("ETA -")  # not a batch yet: nothing to reckon from
        self.line.show(
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            f"{ROWS_OF_TOTAL[run.kind] % {'done': done, 'count': total}}  "
            f"{_rate(done, elapsed)}  {when}"
        )


class BarLine:
    """The terminal line the bar is drawn on, shared with the log records written meanwhile.

    The bar is drawn from the thread running the export, records come from any thread: one
    lock keeps a record from being written while the line is half drawn.
    """

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.lock = threading.RLock()
        self.text = ""  # the bar as last drawn
        self.width = 0  # how much of the line it covers now: 0 while cleared

    def show(self, text: str) -> None:
        """Draw ``text`` over the line's previous content."""
        with self.lock:
            self._write("\r" + text + " " * max(self.width - len(text), 0))
            self.text = text
            self.width = len(text)

    def clear(self) -> None:
        """Blank the line and return to its start, where a record can be written."""
        with self.lock:
            if self.width:
                self._write("\r" + " " * self.width + "\r")
                self.width = 0

    def redraw(self) -> None:
        """Draw the bar again after a record left the line empty."""
        with self.lock:
            if self.text and not self.width:
                self.show(self.text)

    def end(self) -> None:
        """Leave the bar on its line, so that what follows starts on a line of its own."""
        with self.lock:
            if self.width:
                self._write("\n")
            self.text = ""
            self.width = 0

    def _write(self, text: str) -> None:
        self.out.write(text, ending="")
        self.out.flush()


class AroundTheBar:
    """A terminal stream for log records while the bar is shown: each record gets a line of its
    own, the bar's line cleared before it and redrawn after it."""

    def __init__(self, stream: IO[str], line: BarLine) -> None:
        self.stream = stream
        self.line = line

    def write(self, text: str) -> int:
        with self.line.lock:
            self.line.clear()
            written = self.stream.write(text)
            self.stream.flush()
            if text.endswith("\n"):
                self.line.redraw()
        return written

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def log_records_around(line: BarLine) -> Iterator[None]:
    """Within the block, log records bound for a terminal are written around the bar's line.

    Every handler writing to a terminal writes through the bar; so does Python's last resort
    (the handler that writes warnings to standard error when logging is not configured).
    """
    swapped = [
        (handler, handler.setStream(AroundTheBar(handler.stream, line)))
        for handler in _terminal_handlers()
    ]
    last_resort = logging.lastResort
    if last_resort is not None and _is_terminal(sys.stderr):
        stand_in = logging.StreamHandler(AroundTheBar(sys.stderr, line))
        stand_in.setLevel(last_resort.level)
        logging.lastResort = stand_in
    try:
        yield
    finally:
        logging.lastResort = last_resort
        for handler, stream in swapped:
            handler.setStream(stream)


def _terminal_handlers() -> list[logging.StreamHandler[Any]]:
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    handlers = dict.fromkeys(handler for logger in loggers for handler in logger.handlers)
    return [
        handler
        for handler in handlers
        if isinstance(handler, logging.StreamHandler) and _is_terminal(handler.stream)
    ]


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # not a file, or a closed one
        return False
