"""The schedule as a person reads it: what runs, when in words, how it last went, when next."""

from __future__ import annotations

from datetime import datetime

from cdp_bridge.local_time import local_time
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule.clock import describe, next_fire_time
from cdp_bridge.schedule.entries import ScheduledExport, scheduled_exports


def schedule_listing(now: datetime) -> str:
    """One block per schedule entry, for ``cdp_run_schedule --list``."""
    scheduled = scheduled_exports()
    if not scheduled:
        return "No scheduled exports: add them under data_export.schedule."
    keys = [item.entry.key for item in scheduled if item.entry is not None]
    states = {state.entry_key: state for state in ScheduleState.objects.filter(entry_key__in=keys)}
    return "\n\n".join(_block(item, states, now) for item in scheduled)


def _block(item: ScheduledExport, states: dict[str, ScheduleState], now: datetime) -> str:
    entry = item.entry
    if entry is None:
        return f"{item.name}: not read from the configuration\n  REFUSED:   {item.problem}"
    lines = [
        f"{item.name}: stream_{entry.kind}_data {entry.options}".rstrip()
        + f" (scope {entry.scope})",
        f"  interval:  {entry.interval} ({describe(entry.interval)})",
        f"  last run:  {_last_run(states.get(entry.key), now)}",
        f"  next run:  {local_time(next_fire_time(entry.interval, now))}",
    ]
    if item.problem:
        lines.append(f"  REFUSED:   {item.problem}")
    return "\n".join(lines)


def _last_run(state: ScheduleState | None, now: datetime) -> str:
    if state is None or state.last_started_at is None:
        return "never"
    text = f"{local_time(state.last_started_at)}, {state.shown_result(now)}"
    if state.last_error:
        text += f": {state.last_error}"
    return text
