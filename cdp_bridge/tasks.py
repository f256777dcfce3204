"""Celery tasks. Celery is imported here only, so cdp_bridge works without the ``celery`` extra.

Set ``webhook.queue: celery`` for the webhook to hand queued deliveries to a worker; without
it they wait for ``manage.py cdp_process_deliveries``. ``cdp_bridge.celery.beat_schedule()``
makes beat send ``run_schedule`` every minute, which runs the export schedule's due entries;
``stream_data`` runs one export from an options string, as ``stream_<kind>_data`` would.
"""

from __future__ import annotations

from celery import shared_task

from cdp_bridge import conf
from cdp_bridge.celery import RUN_SCHEDULE, RUN_SCHEDULE_ENTRY
from cdp_bridge.exceptions import DATABASE_UNAVAILABLE
from cdp_bridge.export.report import summary
from cdp_bridge.export.runner import run_export
from cdp_bridge.management.stream_data import parse_options
from cdp_bridge.schedule.runner import run_due_entries, run_entry_by_key
from cdp_bridge.webhook.queue import CELERY_TASK, process_delivery


@shared_task(  # type: ignore[untyped-decorator]
    name=CELERY_TASK,  # the webhook sends it by this name
    # The delivery stays queued while the database is away: try again, more slowly each time.
    autoretry_for=DATABASE_UNAVAILABLE,
    retry_backoff=True,
    max_retries=8,
)
def process_queued_delivery(pk: int) -> str | None:
    """Apply one queued webhook delivery; returns its status (None: not queued any more)."""
    record = process_delivery(pk)
    return record.status if record else None


@shared_task(name="cdp_bridge.stream_data")  # type: ignore[untyped-decorator]
def stream_data(kind: str, options: str = "", scope: str = "default") -> str:
    """Export as ``stream_<kind>_data <options>`` would, for ``scope`` unless the options name one.

    Returns the run's summary line; options the command refuses, or a failed export, raise
    ExportError, so the task is marked failed.
    """
    return summary(run_export(parse_options(kind, options, scope=scope)))


@shared_task(name=RUN_SCHEDULE)  # type: ignore[untyped-decorator]
def run_schedule() -> list[str]:
    """Run each schedule entry whose interval fired since it last ran, as ``cdp_run_schedule``.

    Beat sends it every minute. The configuration is read afresh each time, so that an entry
    added, changed or removed (in the YAML file) is seen at the next minute, not at the next
    restart. Returns a line per entry, as the command prints them.
    """
    conf.reload()
    return [
        f"{outcome.name} {outcome.status}" + (f": {outcome.detail}" if outcome.detail else "")
        for outcome in run_due_entries()
    ]


@shared_task(name=RUN_SCHEDULE_ENTRY)  # type: ignore[untyped-decorator]
def run_schedule_entry(entry_key: str) -> str:
    """Run one schedule entry if its interval fired since it last ran.

    Beat used to send it, from one beat entry per schedule entry; ``run_schedule`` does that
    work now, and messages still queued from then run here.

    The entry's fire is claimed through the same lease as ``cdp_run_schedule``, so a repeated
    message, a second beat or a second worker never runs it twice or in overlap.
    """
    outcome = run_entry_by_key(entry_key)
    if outcome is None:
        return "no such entry: the schedule changed since beat read it"
    return f"{outcome.status}: {outcome.detail}" if outcome.detail else outcome.status
