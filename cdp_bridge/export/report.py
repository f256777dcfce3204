"""What people see of a run: a progress bar on a terminal, a line per batch, the summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from time import monotonic

from django.core.management.base import OutputWrapper
from django.utils import timezone

from cdp_bridge.export.batches import Batch
from cdp_bridge.models import ExportRun

NOUNS = {
    "user": ("user", "users"),
    "content": ("content item", "content items"),
    "product": ("product", "products"),
}
BAR_WIDTH = 24
BAR_INTERVAL = 0.1  # seconds between redraws: a terminal cannot show more


def summary(run: ExportRun) -> str:
    """``Streamed 1000000 users in 1000 batches to stream 0000…0000 (full) in 41.2 s (…)``."""
    seconds = run.duration.total_seconds() if run.duration else 0.0
    rate = f" ({run.rows / seconds:.0f} rows/s)" if seconds > 0 else ""
    skipped = (
        f"; skipped {_count(run.skipped, run.kind)} without an id (no person identifier)"
        if run.skipped
        else ""
    )
    return (
        f"Streamed {_count(run.rows, run.kind)} in {run.batches} "
        f"batch{'' if run.batches == 1 else 'es'} to {run.destination} "
        f"({'draft' if run.draft else 'full'}) in {seconds:.1f} s{rate}{skipped}"
    )


def resumption(run: ExportRun) -> str | None:
    """Which run a ``--resume`` continues, and from where; None for a run that resumes none."""
    resumed = run.resumed_from
    if resumed is None:
        return None
    return (
        f"Continuing export run {resumed.pk} ({resumed.status}, started "
        f"{timezone.localtime(resumed.started_at):%Y-%m-%d %H:%M}) after the "
        f"{_count(resumed.rows, run.kind)} it sent, from key {resumed.last_acknowledged_key}."
    )


def _count(rows: int, kind: str) -> str:
    singular, plural = NOUNS[kind]
    return f"{rows} {singular if rows == 1 else plural}"


class ProgressReport:
    """An ExportObserver writing to a command's output.

    ``notes``: which run a ``--resume`` continues. ``bar``: a progress bar redrawn in place
    (rows, rows/s, ETA), for a terminal. ``lines``: one line per batch, for logs (``-v 2``).
    ``payloads``: each batch's JSON too (``-v 3``, like Ibexa's ``-vv``).
    """

    def __init__(
        self, out: OutputWrapper, *, notes: bool, bar: bool, lines: bool, payloads: bool
    ) -> None:
        self.out = out
        self.notes = notes
        self.bar = bar
        self.lines = lines
        self.payloads = payloads
        self.total: int | None = None
        self.started_at = monotonic()
        self.drawn_at = 0.0

    def started(self, run: ExportRun, count_rows: Callable[[], int]) -> None:
        self.started_at = monotonic()
        note = resumption(run)
        if self.notes and note:
            self.out.write(note)
        if self.bar:
            self.total = count_rows()
            self.draw(run.rows, run.kind, force=True)

    def batch_sent(self, run: ExportRun, batch: Batch, seconds: float) -> None:
        if self.lines:
            self.out.write(
                f"Batch {batch.number}: {batch.rows} rows, {len(batch.body)} bytes, accepted in "
                f"{seconds:.3f} s ({run.rows} rows so far)"
            )
        if self.payloads:
            self.out.write(batch.body.decode())
        if self.bar:
            self.draw(run.rows, run.kind)

    def draw(self, done: int, kind: str, *, force: bool = False) -> None:
        now = monotonic()
        if not force and now - self.drawn_at < BAR_INTERVAL and done != self.total:
            return
        self.drawn_at = now
        elapsed = now - self.started_at
        rate = done / elapsed if elapsed > 0 else 0.0
        total = self.total or 0
        share = done / total if total else 1.0
        filled = round(BAR_WIDTH * share)
        eta = timedelta(seconds=round((total - done) / rate)) if rate and total else None
        self.out.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            f"{done}/{total} {NOUNS[kind][1]}  {rate:.0f} rows/s  ETA {eta or '-'}  ",
            ending="",
        )
        self.out.flush()

    def end_line(self) -> None:
        """Leave the bar's line, so that what follows starts on a line of its own."""
        if self.bar:
            self.out.write("")
