"""The schedule as a person reads it: what runs, when in words, how it last went, when next."""

from __future__ import annotations

from datetime import datetime

from django.core.management.color import Style
from django.utils.translation import gettext as _

from cdp_bridge.local_time import local_time
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule.clock import next_fire_time
from cdp_bridge.schedule.entries import ScheduledExport, scheduled_exports, unread_schedule
from cdp_bridge.schedule.interval_words import describe


def schedule_listing(now: datetime, style: Style) -> str:
    """One block per schedule entry, for ``cdp_run_schedule --list``; ``style`` marks refused
    entries and last runs that did not succeed."""
    scheduled = scheduled_exports()
    unread = [
        _("%(name)s: not read from the configuration") % {"name": part.where}
        + "\n"
        + style.ERROR(_("  REFUSED:   %(problem)s") % {"problem": part.problem})
        for part in unread_schedule()
    ]
    if not scheduled and not unread:
        return style.WARNING(_("No scheduled exports: add them under data_export.schedule."))
    keys = [item.entry.key for item in scheduled if item.entry is not None]
    states = {state.entry_key: state for state in ScheduleState.objects.filter(entry_key__in=keys)}
    return "\n\n".join(unread + [_block(item, states, now, style) for item in scheduled])


def _block(
    item: ScheduledExport, states: dict[str, ScheduleState], now: datetime, style: Style
) -> str:
    entry = item.entry
    refused = style.ERROR(_("  REFUSED:   %(problem)s") % {"problem": item.problem})
    if entry is None:
        return _("%(name)s: not read from the configuration") % {"name": item.name} + f"\n{refused}"
    command = f"stream_{entry.kind}_data {entry.options}".rstrip()
    lines = [
        _("%(name)s: %(command)s (scope %(scope)s)")
        % {"name": item.name, "command": command, "scope": entry.scope},
        _("  interval:  %(interval)s (%(words)s)")
        % {"interval": entry.interval, "words": describe(entry.interval)},
        _last_run(states.get(entry.key), now, style),
        _("  next run:  %(time)s") % {"time": local_time(next_fire_time(entry.interval, now))},
    ]
    if item.problem:
        lines.append(refused)
    return "\n".join(lines)


def _last_run(state: ScheduleState | None, now: datetime, style: Style) -> str:
    if state is None or state.last_started_at is None:
        return _("  last run:  never")
    result = state.shown_result(now)
    shown = {
        "time": local_time(state.last_started_at),
        "result": ScheduleState.Result(result).label,
        "error": state.last_error,
    }
    if state.last_error:
        text = _("  last run:  %(time)s, %(result)s: %(error)s") % shown
    else:
        text = _("  last run:  %(time)s, %(result)s") % shown
    unfinished = (ScheduleState.Result.FAILED, ScheduleState.Result.INTERRUPTED)
    return style.WARNING(text) if result in unfinished else text
