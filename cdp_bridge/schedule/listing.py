"""The schedule as a person reads it: what runs, when in words, how it last went, when next."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from cdp_bridge.conf import cdp_settings
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule.clock import describe, next_fire_time
from cdp_bridge.schedule.leases import entry_key
from cdp_bridge.schedule.runner import options_problem


def schedule_listing(now: datetime) -> str:
    """One block per schedule entry, for ``cdp_run_schedule --list``."""
    entries = cdp_settings().schedule
    if not entries:
        return "No scheduled exports: add them under data_export.schedule."
    states = {
        state.entry_key: state
        for state in ScheduleState.objects.filter(entry_key__in=[entry_key(e) for e in entries])
    }
    blocks = []
    for entry in entries:
        state = states.get(entry_key(entry))
        lines = [
            f"{entry.key}: stream_{entry.kind}_data {entry.options}".rstrip()
            + f" (scope {entry.scope})",
            f"  interval:  {entry.interval} ({describe(entry.interval)})",
            f"  last run:  {_last_run(state)}",
            f"  next run:  {_local(next_fire_time(entry.interval, now))}",
        ]
        problem = options_problem(entry)
        if problem:
            lines.append(f"  REFUSED:   {problem}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _last_run(state: ScheduleState | None) -> str:
    if state is None or state.last_started_at is None:
        return "never"
    text = f"{_local(state.last_started_at)}, {state.last_result}"
    if state.last_error:
        text += f": {state.last_error}"
    return text


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
