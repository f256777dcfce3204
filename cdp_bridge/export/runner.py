"""Running one export: plan it, stream its rows batch by batch, and record it as an ExportRun.

``run_export()`` is what the ``stream_<kind>_data`` commands, the schedule and the Celery
tasks call. Rows are read a chunk at a time, and each batch is sent (from a thread of its own) while
the next is read, so memory stays flat whatever the table size. The run records the rows, the
batches and the last key the destination accepted, so a failed full export can be resumed
from there (``--resume``) without skipping or losing rows.

Progress is saved at most once a second (a commit per batch would cost more than reading
it) and always when the run ends, however it ends. Only a process killed outright loses up to
a second of progress, and resuming it resends those rows: harmless, as Raptor upserts them.
Such a run stops renewing its heartbeat, and is then recorded as interrupted. However a run
ends, ``export_finished`` is sent once it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from time import monotonic
from typing import Any, Protocol

from django.utils import timezone
from django.utils.translation import gettext as _

from cdp_bridge import signals
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.batches import Batch, split_into_batches
from cdp_bridge.export.plan import ExportOptions, ExportPlan, plan_export
from cdp_bridge.export.processors import Row
from cdp_bridge.export.rows import RowBuilder
from cdp_bridge.export.sender import BackgroundSender, Sent
from cdp_bridge.export.sources import chunks
from cdp_bridge.heartbeat import repeated
from cdp_bridge.models import ExportRun
from cdp_bridge.models.export import HEARTBEAT_EVERY

__all__ = ["ExportObserver", "ExportOptions", "run_export"]

CHECKPOINT_INTERVAL = 1.0  # seconds


class ExportObserver(Protocol):
    """Follows a run as it goes: a progress bar, log lines."""

    def started(self, run: ExportRun, count_rows: Callable[[], int]) -> None: ...

    def batch_sent(self, run: ExportRun, batch: Batch, seconds: float) -> None: ...


def run_export(options: ExportOptions, observer: ExportObserver | None = None) -> ExportRun:
    """Run the export ``options`` ask for and return its ExportRun.

    On failure the run is recorded as failed and ExportError (with ``.run``) says what went
    wrong; anything else that stops the run is recorded too and raised as it is: a bug in a
    processor as a failure, a KeyboardInterrupt (Ctrl-C, SIGTERM) as an interruption.
    """
    run = ExportRun.objects.create(
        kind=options.kind, scope=options.scope, source=options.source or "", draft=options.draft
    )
    try:
        with repeated(partial(_beat, run.pk), HEARTBEAT_EVERY, f"cdp-export-{run.pk}"):
            plan = plan_export(options, run)
            _record_plan(run, plan)
            _stream(plan, run, observer)
    except ExportError as error:
        _finish(run, ExportRun.Status.FAILED, str(error))
        error.run = run
        raise
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM where the command handles it
        _finish(run, ExportRun.Status.INTERRUPTED, str(error) or _("Interrupted (Ctrl-C)."))
        raise
    except Exception as error:
        _finish(run, ExportRun.Status.FAILED, f"{type(error).__name__}: {error}")
        raise
    _finish(run, ExportRun.Status.SUCCEEDED, "")
    return run


def _beat(pk: int) -> None:
    """The run's sign of life: a run whose heartbeat lapses is shown as interrupted."""
    ExportRun.objects.filter(pk=pk).update(heartbeat_at=timezone.now())


def _record_plan(run: ExportRun, plan: ExportPlan) -> None:
    run.scope = plan.scope.name
    run.source = plan.source.name
    run.transport = plan.stream.transport
    run.stream_id = plan.stream_id
    run.since = plan.since
    run.resumed_from = plan.resumed_from
    if plan.resumed_from is not None:
        run.last_acknowledged_key = plan.resumed_from.last_acknowledged_key
    run.save()


def _stream(plan: ExportPlan, run: ExportRun, observer: ExportObserver | None) -> None:
    transport = plan.open_transport(run)
    run.destination = transport.destination
    run.save(update_fields=["destination"])
    if observer is not None:
        observer.started(run, lambda: _count(plan))
    sender = BackgroundSender(transport)
    progress = _Progress(run, observer)
    try:
        number = 1
        builder = plan.builder
        for chunk in chunks(
            plan.queryset, plan.batch_size, builder.key, after=plan.after, limit=plan.limit
        ):
            records, rows = _with_ids(chunk, builder.rows(chunk))
            run.skipped += len(chunk) - len(records)
            if not rows:
                continue
            key_of = partial(_key_of, builder, records)
            for batch in split_into_batches(rows, key_of, plan.stream.max_batch_bytes, number):
                progress.acknowledge(sender.submit(batch))
                sender.raise_if_failed()
                number += 1
        progress.acknowledge(sender.finish())
        sender.raise_if_failed()
    except BaseException:
        progress.acknowledge(sender.stop())
        raise
    finally:
        transport.close()


class _Progress:
    """Counts the batches the destination accepted; --resume continues after the last key."""

    def __init__(self, run: ExportRun, observer: ExportObserver | None) -> None:
        self.run = run
        self.observer = observer
        self.saved_at = monotonic()

    def acknowledge(self, sent: list[Sent]) -> None:
        run = self.run
        for item in sent:
            run.rows += item.batch.rows
            run.batches += 1
            run.last_acknowledged_key = str(item.batch.last_key)
            if self.observer is not None:
                self.observer.batch_sent(run, item.batch, item.seconds)
        if sent and monotonic() - self.saved_at >= CHECKPOINT_INTERVAL:
            run.save(update_fields=PROGRESS_FIELDS)
            self.saved_at = monotonic()


def _with_ids(records: Sequence[Any], rows: list[Row]) -> tuple[Sequence[Any], list[Row]]:
    """The records and rows that have an ``id``, which the CDP needs (its ``userid``).

    A user whose person identifier is empty has none: sent, every such user would be one
    person to the CDP, so they are left out (and counted in the run's ``skipped``).
    """
    if all(row.get("id") not in _NO_ID for row in rows):
        return records, rows
    kept = [index for index, row in enumerate(rows) if row.get("id") not in _NO_ID]
    return [records[index] for index in kept], [rows[index] for index in kept]


_NO_ID = (None, "")


def _key_of(builder: RowBuilder, records: Sequence[Any], index: int) -> Any:
    return builder.key(records[index])


def _count(plan: ExportPlan) -> int:
    queryset = plan.queryset if plan.after is None else plan.queryset.filter(pk__gt=plan.after)
    total = queryset.count()
    return total if plan.limit is None else min(total, plan.limit)


PROGRESS_FIELDS = ["rows", "skipped", "batches", "last_acknowledged_key"]


def _finish(run: ExportRun, status: str, error: str) -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", *PROGRESS_FIELDS])
    signals.export_finished.send_after_commit(ExportRun, run=run)
