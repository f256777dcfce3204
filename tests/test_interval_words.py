"""Intervals in words, as ``cdp_run_schedule --list`` shows them: only words that are exact."""

import pytest

from cdp_bridge.schedule.interval_words import describe


@pytest.fixture(autouse=True)
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


@pytest.mark.parametrize(
    ("interval", "words"),
    [
        # A rhythm through every hour keeps time in real time: no wall clock, no zone.
        ("* * * * *", "every minute"),
        ("*/1 * * * *", "every minute"),
        ("*/15 * * * *", "every 15 minutes"),
        ("0,30 * * * *", "every 30 minutes"),
        ("0 * * * *", "every hour at minute 0"),
        ("@hourly", "every hour at minute 0"),
        # A step that does not divide the hour is not "every 7 minutes": 56 is followed by 0.
        ("*/7 * * * *", "every hour at minutes 0, 7, 14, 21, 28, 35, 42, 49 and 56"),
        # Clock times are the wall clock of TIME_ZONE, named.
        ("0 */6 * * *", "every 6 hours, at 00:00, 06:00, 12:00 and 18:00, Europe/Berlin time"),
        ("0 */12 * * *", "every 12 hours, at 00:00 and 12:00, Europe/Berlin time"),
        ("15 */2 * * *", "every 2 hours from 00:15 to 22:15, Europe/Berlin time"),
        # Nor is */5 hours "every 5 hours": 20:00 is followed by 00:00.
        ("0 */5 * * *", "every day at 00:00, 05:00, 10:00, 15:00 and 20:00, Europe/Berlin time"),
        ("30 2 * * *", "every day at 02:30, Europe/Berlin time"),
        ("0 8,20 * * *", "every day at 08:00 and 20:00, Europe/Berlin time"),
        ("@daily", "every day at 00:00, Europe/Berlin time"),
        ("0 6 * * 1", "every Monday at 06:00, Europe/Berlin time"),
        ("0 9 * * mon,thu", "every Monday and Thursday at 09:00, Europe/Berlin time"),
        ("@weekly", "every Sunday at 00:00, Europe/Berlin time"),
        ("15 4 1 * *", "on day 1 of every month at 04:15, Europe/Berlin time"),
        ("0 0 1,15 * *", "on days 1 and 15 of every month at 00:00, Europe/Berlin time"),
        (
            "0 8-18 * * 1-5",
            "every hour from 08:00 to 18:00, every Monday to Friday, Europe/Berlin time",
        ),
        (
            "*/30 9-17 * * 1-5",
            "every 30 minutes from 09:00 to 17:30, every Monday to Friday, Europe/Berlin time",
        ),
        ("*/15 * * * 1-5", "every 15 minutes, every Monday to Friday, Europe/Berlin time"),
        # What words would misread is shown field by field.
        ("0 0 1 1 *", "at minute 0, hour 0, day 1, month 1, weekday *, Europe/Berlin time"),
        ("0 0 1 * 1", "at minute 0, hour 0, day 1, month *, weekday 1, Europe/Berlin time"),
        ("0 0 * * 5#2", "at minute 0, hour 0, day *, month *, weekday 5#2, Europe/Berlin time"),
    ],
)
def test_intervals_in_words(interval, words):
    assert describe(interval) == words


def test_the_zone_named_is_the_sites(settings):
    settings.TIME_ZONE = "America/New_York"
    assert describe("30 2 * * *") == "every day at 02:30, America/New_York time"
