"""When a crontab interval fires, in wall-clock time of ``settings.TIME_ZONE``.

Intervals are evaluated on the local wall clock, so each wall-clock fire time happens once
whatever daylight saving does: a time inside the hour that the spring change skips (02:30 on
the last Sunday of March in Europe/Berlin) fires right after the change, and a time inside
the hour that the autumn change repeats fires the first time only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.utils import timezone

WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _local_wall_time(moment: datetime) -> datetime:
    """``moment`` on the wall clock of TIME_ZONE, without tzinfo (what croniter evaluates)."""
    return timezone.localtime(moment, timezone.get_current_timezone()).replace(tzinfo=None)


def _aware(wall_time: datetime) -> datetime:
    """The instant of a wall time, in UTC.

    fold=0 makes a repeated wall time its first occurrence and moves a skipped one past the
    gap. UTC, because Python compares datetimes of one zone by wall time, ignoring the offset.
    """
    zone = timezone.get_current_timezone()
    assert isinstance(zone, ZoneInfo)
    return wall_time.replace(tzinfo=zone, fold=0).astimezone(UTC)


def latest_fire_time(interval: str, now: datetime) -> datetime:
    """The most recent wall-clock time, at or before ``now``, at which ``interval`` fires."""
    wall_now = _local_wall_time(now).replace(second=0, microsecond=0)
    # croniter's get_prev is strictly before its start; start a minute on to include now.
    wall = croniter(interval, wall_now + timedelta(minutes=1)).get_prev(datetime)
    return _aware(wall)


def next_fire_time(interval: str, now: datetime) -> datetime:
    """The first wall-clock time after ``now`` at which ``interval`` fires."""
    return _aware(croniter(interval, _local_wall_time(now)).get_next(datetime))


def describe(interval: str) -> str:
    """An interval in words: ``*/15 * * * *`` is "every 15 minutes"."""
    minute, hour, day, month, weekday = MACROS.get(interval, interval).split()
    if (day, month, weekday) == ("*", "*", "*"):
        if hour == "*":
            if minute == "*":
                return "every minute"
            if minute.startswith("*/"):
                return f"every {minute[2:]} minutes"
            if minute.isdigit():
                return f"every hour at minute {int(minute)}"
        if hour.startswith("*/") and minute.isdigit():
            return f"every {hour[2:]} hours at minute {int(minute)}"
        if hour.isdigit() and minute.isdigit():
            return f"every day at {int(hour):02d}:{int(minute):02d}"
    if (day, month) == ("*", "*") and weekday.isdigit() and hour.isdigit() and minute.isdigit():
        return f"every {WEEKDAYS[int(weekday) % 7]} at {int(hour):02d}:{int(minute):02d}"
    if month == "*" and weekday == "*" and day.isdigit() and hour.isdigit() and minute.isdigit():
        return f"on day {int(day)} of every month at {int(hour):02d}:{int(minute):02d}"
    return f"at minute {minute}, hour {hour}, day {day}, month {month}, weekday {weekday}"
