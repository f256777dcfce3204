"""When a crontab interval fires, on the wall clock of ``settings.TIME_ZONE``.

Daylight saving is handled as Vixie cron does, so that a change neither skips nor doubles
a run:

* an entry at fixed hours (``30 2 * * *``) fires at each wall-clock time once: a time inside
  the hour that spring skips fires right after the change, and a time inside the hour that
  autumn repeats fires the first time only;
* an entry whose hour field is a wildcard (``*/15 * * * *``, ``0 * * * *``) keeps its rhythm
  in real time: it also fires in the repeated autumn hour, and across the spring gap the
  next fire comes when its interval has passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.schedule.cron import CRON_MACROS


def require_aware_times() -> None:
    """The schedule compares instants across processes and clock changes: it needs USE_TZ."""
    if not settings.USE_TZ:
        raise ConfigurationError(
            _(
                "The export schedule needs USE_TZ = True (Django's default), so that its times "
                "are instants, whatever the time zone and daylight saving do."
            )
        )


def cron_fields(interval: str) -> list[str]:
    """The five crontab fields of an interval (macros such as ``@daily`` spelt out)."""
    return CRON_MACROS.get(interval, interval).split()


def _local_wall_time(moment: datetime) -> datetime:
    """``moment`` on the wall clock of TIME_ZONE, without tzinfo (what croniter evaluates)."""
    return timezone.localtime(moment, timezone.get_current_timezone()).replace(tzinfo=None)


def _instant(wall_time: datetime, interval: str, now: datetime | None = None) -> datetime:
    """The instant, in UTC, of a fire at ``wall_time``.

    A wall time the clock change repeats or skips has two readings (fold 0 and 1). Fixed hours
    take fold 0: the first of a repeated time, a skipped time moved past the gap. A wildcard
    hour takes the latest reading at or before ``now``, which keeps its rhythm in real time.
    UTC, because Python compares datetimes of one zone by wall time, ignoring the offset.
    """
    zone = timezone.get_current_timezone()
    assert isinstance(zone, ZoneInfo)
    first = wall_time.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if now is None or "*" not in cron_fields(interval)[1]:
        return first
    readings = {first, wall_time.replace(tzinfo=zone, fold=1).astimezone(UTC)}
    past = [reading for reading in readings if reading <= now]
    return max(past) if past else min(readings)


def latest_fire_time(interval: str, now: datetime) -> datetime:
    """The most recent instant, at or before ``now``, at which ``interval`` fires."""
    wall_now = _local_wall_time(now).replace(second=0, microsecond=0)
    # croniter's get_prev is strictly before its start; start a minute on to include now.
    wall = croniter(interval, wall_now + timedelta(minutes=1)).get_prev(datetime)
    return _instant(wall, interval, now)


def next_fire_time(interval: str, now: datetime) -> datetime:
    """The first wall-clock time after ``now`` at which ``interval`` fires."""
    return _instant(croniter(interval, _local_wall_time(now)).get_next(datetime), interval)


def describe(interval: str) -> str:
    """An interval in words: ``*/15 * * * *`` is "every 15 minutes" (in the active language)."""
    minute, hour, day, month, weekday = cron_fields(interval)
    time = f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else ""
    if (day, month, weekday) == ("*", "*", "*"):
        if hour == "*":
            if minute == "*":
                return _("every minute")
            if minute.startswith("*/"):
                return _("every %(count)s minutes") % {"count": minute[2:]}
            if minute.isdigit():
                return _("every hour at minute %(minute)d") % {"minute": int(minute)}
        if hour.startswith("*/") and minute.isdigit():
            return _("every %(count)s hours at minute %(minute)d") % {
                "count": hour[2:],
                "minute": int(minute),
            }
        if time:
            return _("every day at %(time)s") % {"time": time}
    if (day, month) == ("*", "*") and weekday.isdigit() and time:
        # Crontab counts weekdays from Sunday (0 or 7), Django's WEEKDAYS from Monday.
        name = WEEKDAYS[(int(weekday) - 1) % 7]
        return _("every %(weekday)s at %(time)s") % {"weekday": name, "time": time}
    if month == "*" and weekday == "*" and day.isdigit() and time:
        return _("on day %(day)d of every month at %(time)s") % {"day": int(day), "time": time}
    return _(
        "at minute %(minute)s, hour %(hour)s, day %(day)s, month %(month)s, weekday %(weekday)s"
    ) % {"minute": minute, "hour": hour, "day": day, "month": month, "weekday": weekday}
