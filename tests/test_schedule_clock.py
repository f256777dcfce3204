"""Fire times on the wall clock of TIME_ZONE, across the 2026 daylight-saving changes in Berlin."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cdp_bridge.schedule.clock import latest_fire_time, next_fire_time

BERLIN_SPRING = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
BERLIN_AUTUMN = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET


@pytest.fixture(autouse=True)
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def fires_between(interval, start, end):
    """The distinct fire times seen by a cron tick every minute from start to end (UTC)."""
    seen = []
    moment = start
    while moment <= end:
        fire = latest_fire_time(interval, moment)
        if not seen or fire > seen[-1]:
            seen.append(fire)
        moment += timedelta(minutes=1)
    return seen[1:]  # the first is the fire before the window


def test_latest_fire_time_includes_the_current_minute():
    now = datetime(2026, 11, 25, 9, 15, 42, tzinfo=UTC)  # 10:15:42 in Berlin
    assert latest_fire_time("*/15 * * * *", now) == datetime(2026, 11, 25, 9, 15, tzinfo=UTC)
    assert latest_fire_time("0 * * * *", now) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert next_fire_time("*/15 * * * *", now) == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def test_intervals_are_evaluated_in_time_zone():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    # 02:30 every day in Berlin (CET, UTC+1) is 01:30 UTC.
    assert latest_fire_time("30 2 * * *", now) == datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


def test_a_daily_time_in_the_skipped_spring_hour_runs_once_right_after_the_change():
    fires = fires_between(
        "30 2 * * *", BERLIN_SPRING - timedelta(hours=3), BERLIN_SPRING + timedelta(hours=3)
    )
    assert len(fires) == 1
    # 02:30 does not exist that night; the first tick after the change (03:00 CEST) runs it.
    ticks = [BERLIN_SPRING - timedelta(minutes=1), BERLIN_SPRING]
    assert latest_fire_time("30 2 * * *", ticks[1]) > latest_fire_time("30 2 * * *", ticks[0])


def test_a_daily_time_in_the_repeated_autumn_hour_runs_once():
    fires = fires_between(
        "30 2 * * *", BERLIN_AUTUMN - timedelta(hours=3), BERLIN_AUTUMN + timedelta(hours=3)
    )
    assert fires == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # 02:30 CEST, not 02:30 CET


@pytest.mark.parametrize("moment", [BERLIN_SPRING, BERLIN_AUTUMN])
def test_daily_entries_outside_the_changed_hour_run_once_a_day(moment):
    fires = fires_between("0 9 * * *", moment - timedelta(days=2), moment + timedelta(days=2))
    assert len(fires) == 4
    assert {f.astimezone(ZoneInfo("Europe/Berlin")).hour for f in fires} == {9}


def test_an_every_15_minutes_entry_keeps_its_wall_clock_rhythm_in_spring():
    fires = fires_between(
        "*/15 * * * *", BERLIN_SPRING - timedelta(hours=1), BERLIN_SPRING + timedelta(hours=1)
    )
    # Two real hours hold 8 quarter hours; none is skipped and none doubled.
    assert len(fires) == 8
    assert len(set(fires)) == 8


def test_an_hourly_entry_keeps_running_hourly_in_real_time_through_the_repeated_hour():
    fires = fires_between(
        "0 * * * *", BERLIN_AUTUMN - timedelta(hours=2), BERLIN_AUTUMN + timedelta(hours=2)
    )
    assert fires == [
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),  # 02:00 CEST
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # 02:00 CET, the repeated hour
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC),  # 03:00 CET
        datetime(2026, 10, 25, 3, 0, tzinfo=UTC),  # 04:00 CET
    ]


def test_an_every_15_minutes_entry_keeps_its_rhythm_through_the_repeated_hour():
    fires = fires_between(
        "*/15 * * * *", BERLIN_AUTUMN - timedelta(hours=1), BERLIN_AUTUMN + timedelta(hours=1)
    )
    # Two real hours hold 8 quarter hours: none skipped in the repeated hour, none doubled.
    assert fires == [
        BERLIN_AUTUMN - timedelta(minutes=45) + timedelta(minutes=15 * i) for i in range(8)
    ]


def test_a_half_past_every_hour_entry_keeps_its_rhythm_across_the_spring_gap():
    fires = fires_between(
        "30 * * * *", BERLIN_SPRING - timedelta(hours=2), BERLIN_SPRING + timedelta(hours=2)
    )
    # 23:30, 00:30 (01:30 CET), 01:30 (03:30 CEST), 02:30 UTC: once an hour in real time.
    assert fires == [BERLIN_SPRING - timedelta(minutes=90) + timedelta(hours=i) for i in range(4)]
