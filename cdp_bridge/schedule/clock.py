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
