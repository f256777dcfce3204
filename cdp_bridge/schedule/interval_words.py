"""A crontab interval in words, for ``cdp_run_schedule --list``: what it does, not how it is spelt.

Words are only used where they are exactly true. A step that does not divide its range is not
"every N": ``*/7 * * * *`` fires at minutes 0, 7, … 56 and then at 0 again, four minutes
later, so it is read as those minutes. Clock times are on the wall clock of ``TIME_ZONE``
(the schedule's clock), and named with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from croniter import croniter
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cdp_bridge.local_time import zone_name
from cdp_bridge.schedule.cron import CRON_MACROS

MAX_LISTED = 8  # more clock times than this read better as the crontab fields
Field = Sequence[int | str]


def describe(interval: str) -> str:
    """``*/15 * * * *`` is "every 15 minutes"; ``0 */6 * * *`` "every 6 hours, at 00:00, 06:00,
    12:00 and 18:00, Europe/Berlin time"; fields words would misread are shown as they are."""
    text = CRON_MACROS.get(interval, interval)
    (minutes, hours, days, months, weekdays), nth_weekdays = croniter.expand(text)
    on_days = None if nth_weekdays else _days(days, months, weekdays)
    if _is_every(hours):
        rhythm = _within_an_hour(minutes)
        if rhythm is not None and on_days == "":
            return rhythm  # a rhythm no wall clock changes: no zone to name
    else:
        rhythm = _hours_rhythm(minutes, hours)
    times = None if rhythm is not None else _clock_times(minutes, hours)
    if on_days is None or (rhythm is None and times is None):
        fields = dict(zip(("minute", "hour", "day", "month", "weekday"), text.split(), strict=True))
        return _(
            "at minute %(minute)s, hour %(hour)s, day %(day)s, month %(month)s, weekday "
            "%(weekday)s, %(zone)s time"
        ) % {**fields, "zone": zone_name()}
    if rhythm is not None:
        words = f"{rhythm}, {on_days}" if on_days else rhythm
    else:
        words = _("%(days)s at %(times)s") % {"days": on_days or _("every day"), "times": times}
    return _("%(words)s, %(zone)s time") % {"words": words, "zone": zone_name()}


def _within_an_hour(minutes: Field) -> str | None:
    """The rhythm of an interval that fires every hour: "every 15 minutes", "every hour at …"."""
    if _is_every(minutes):
        return _("every minute")
    step = _step(minutes, 60)
    if step:
        return ngettext("every %(count)d minute", "every %(count)d minutes", step) % {"count": step}
    if len(minutes) == 1:
        return _("every hour at minute %(minute)d") % {"minute": minutes[0]}
    return _("every hour at minutes %(minutes)s") % {
        "minutes": _listed([str(minute) for minute in minutes])
    }


def _hours_rhythm(minutes: Field, hours: Field) -> str | None:
    """ "every 6 hours, at …", "every hour from 08:00 to 18:00", "every 30 minutes from …"."""
    every_minute = _is_every(minutes)
    first = _clock(hours[0], 0 if every_minute else minutes[0])
    last = _clock(hours[-1], 59 if every_minute else minutes[-1])
    if every_minute:
        if not _contiguous(hours):
            return None
        return _("every minute from %(first)s to %(last)s") % {"first": first, "last": last}
    minute_step = _step(minutes, 60)
    if len(minutes) == 1:
        hour_step = _step(hours, 24)
        if hour_step and len(hours) <= MAX_LISTED:
            times = _listed([_clock(hour, minutes[0]) for hour in hours])
            return ngettext(
                "every %(count)d hour, at %(times)s",
                "every %(count)d hours, at %(times)s",
                hour_step,
            ) % {"count": hour_step, "times": times}
        if hour_step:
            return ngettext(
                "every %(count)d hour from %(first)s to %(last)s",
                "every %(count)d hours from %(first)s to %(last)s",
                hour_step,
            ) % {"count": hour_step, "first": first, "last": last}
        if _contiguous(hours) and len(hours) >= 3:
            return _("every hour from %(first)s to %(last)s") % {"first": first, "last": last}
    if minute_step and _contiguous(hours):
        return ngettext(
            "every %(count)d minute from %(first)s to %(last)s",
            "every %(count)d minutes from %(first)s to %(last)s",
            minute_step,
        ) % {"count": minute_step, "first": first, "last": last}
    return None


def _clock_times(minutes: Field, hours: Field) -> str | None:
    """ "02:30", "08:00 and 20:00": a few clock times listed; None if they are too many."""
    if _is_every(minutes):
        return None
    listed = [_clock(hour, minute) for hour in _hours_of(hours) for minute in minutes]
    return _listed(listed) if len(listed) <= MAX_LISTED else None


def _days(days: Field, months: Field, weekdays: Field) -> str | None:
    """On which days: "" for every day, None when words would not say it exactly."""
    if not _is_every(months):
        return None
    if _is_every(days) and _is_every(weekdays):
        return ""
    if _is_every(days):
        names = [str(WEEKDAYS[(int(day) + 6) % 7]) for day in weekdays]  # cron: 0 is Sunday
        if _contiguous(weekdays) and len(names) >= 3:
            return _("every %(first)s to %(last)s") % {"first": names[0], "last": names[-1]}
        return _("every %(weekdays)s") % {"weekdays": _listed(names)}
    if _is_every(weekdays) and all(isinstance(day, int) for day in days):
        return ngettext(
            "on day %(days)s of every month", "on days %(days)s of every month", len(days)
        ) % {"days": _listed([str(day) for day in days])}
    return None


def _clock(hour: int | str, minute: int | str) -> str:
    return f"{int(hour):02d}:{int(minute):02d}"


def _hours_of(hours: Field) -> list[int]:
    return list(range(24)) if _is_every(hours) else [int(hour) for hour in hours]


def _contiguous(field: Field) -> bool:
    values = [int(value) for value in field] if not _is_every(field) else []
    return bool(values) and values == list(range(values[0], values[0] + len(values)))


def _is_every(field: Field) -> bool:
    return list(field) == ["*"]


def _step(field: Field, size: int) -> int | None:
    """N when ``field`` is 0, N, 2N, … and N divides ``size`` (every N, truly); else None."""
    if len(field) < 2 or field[0] != 0 or size % len(field):
        return None
    step = size // len(field)
    return step if list(field) == list(range(0, size, step)) else None


def _listed(items: Sequence[str]) -> str:
    """``a, b and c``."""
    if len(items) == 1:
        return items[0]
    return _("%(items)s and %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}
