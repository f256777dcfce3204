"""Runs the schedule: each entry whose interval fired since it last ran, once, never overlapping.

An entry runs the export its options string describes (``'--no-draft --content-type=article'``
for ``stream_content_data``, as Ibexa does), called directly; its outcome's detail is the
run's summary, or what stopped it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.plan import ExportOptions
from cdp_bridge.export.report import summary
from cdp_bridge.export.runner import run_export
from cdp_bridge.management.database import database_refused
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule import leases
from cdp_bridge.schedule.clock import latest_fire_time
from cdp_bridge.schedule.entries import ScheduledExport, scheduled_exports, unread_schedule
from cdp_bridge.translation import english

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

logger = logging.getLogger("cdp_bridge.schedule")

Status = Literal["succeeded", "failed", "not due", "busy", "refused"]
Result = ScheduleState.Result
STATUS_WORDS: dict[str, StrPromise] = {
    "succeeded": pgettext_lazy("schedule entry", "succeeded"),
    "failed": pgettext_lazy("schedule entry", "failed"),
    "not due": pgettext_lazy("schedule entry", "not due"),
    "busy": pgettext_lazy("schedule entry", "busy"),
    "refused": pgettext_lazy("schedule entry", "refused"),
}


@dataclass(frozen=True)
class EntryOutcome:
    """What one invocation did with one entry (known by its name, ``user[0]``)."""

    name: str
    status: Status
    detail: str = ""

    @property
    def shown_status(self) -> str:
        """The status as a person reads it, in the active language."""
        return str(STATUS_WORDS[self.status])


def run_due_entries(now: datetime | None = None) -> list[EntryOutcome]:
    """Run every entry that is due; an entry that cannot run never stops the others.

    Each entry is judged at the time its turn comes (``now`` fixes the time for tests), so a
    long export before it neither hides a fire nor shortens the lease it takes.
    """
    owner = _lease_owner()
    unread = []
    for part in unread_schedule():
        logger.error(
            "Schedule section %s refused: %s",
            part.where,
            _refusal_in_english(part.where, part.problem),
        )
        unread.append(EntryOutcome(part.where, "refused", part.problem))
    return unread + [
        run_if_due(scheduled, owner, now or timezone.now()) for scheduled in scheduled_exports()
    ]


def run_entry_by_key(key: str, now: datetime | None = None) -> EntryOutcome | None:
    """Run the entry whose ``ScheduleEntry.key`` is ``key`` if it is due; None if none has it."""
    for scheduled in scheduled_exports():
        if scheduled.entry is not None and scheduled.entry.key == key:
            return run_if_due(scheduled, _lease_owner(), now or timezone.now())
    return None


def _refusal_in_english(name: str, problem: str) -> str:
    """Why a part of the schedule is refused, in English whatever the language: for the log.

    The configuration's messages are translated as they are read (and read once per language),
    so the English reading is the one to ask.
    """
    with english():
        for part in unread_schedule():
            if part.where == name:
                return part.problem
        for scheduled in scheduled_exports():
            if scheduled.name == name and scheduled.problem:
                return scheduled.problem
    return problem


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_if_due(scheduled: ScheduledExport, owner: str, now: datetime) -> EntryOutcome:
    """Claim and run one entry if its interval fired since it last ran."""
    entry, options = scheduled.entry, scheduled.options
    if entry is None or options is None:
        logger.error(
            "Schedule entry %s refused: %s",
            scheduled.name,
            _refusal_in_english(scheduled.name, scheduled.problem),
        )
        return EntryOutcome(scheduled.name, "refused", scheduled.problem)
    fire_time = latest_fire_time(entry.interval, now)
    state = leases.state_of(entry, now)
    if not leases.claim(entry, fire_time, owner, now):
        busy = state.lease_expires_at is not None and state.lease_expires_at >= now
        return EntryOutcome(scheduled.name, "busy" if busy else "not due")
    logger.info("Running schedule entry %s (fired %s)", scheduled.name, fire_time.isoformat())
    result, detail = Result.INTERRUPTED, _("Interrupted.")  # unless the export returns
    try:
        with leases.renewed_lease(entry, owner):
            result, detail = _export(scheduled.name, options)
    finally:
        error = "" if result == Result.SUCCEEDED else detail
        leases.release(entry, owner, result, error=error)
    return EntryOutcome(
        scheduled.name, "succeeded" if result == Result.SUCCEEDED else "failed", detail
    )


def _export(name: str, options: ExportOptions) -> tuple[ScheduleState.Result, str]:
    """Run the export: its ``Result`` and the run's summary, or what stopped it."""
    try:
        return Result.SUCCEEDED, summary(run_export(options))
    except ExportError as failure:
        return Result.FAILED, str(failure)
    except DatabaseError as failure:
        return Result.FAILED, _("The export stopped: %(reason)s") % {
            "reason": database_refused(failure)
        }
    except Exception as failure:  # an export bug must not stop the other entries
        logger.exception("Schedule entry %s crashed", name)
        return Result.FAILED, f"{type(failure).__name__}: {failure}"
