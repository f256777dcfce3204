"""The dashboard's figures of a scope, against a known history (tests/dashboard/history.py)."""

from datetime import timedelta

import pytest

from cdp_bridge import conf
from cdp_bridge.dashboard.figures import WINDOW_DAYS, scope_figures

from .conftest import QUIET_SCOPE, TODAY, days_ago, on
from .history import deliver_audiences, record_exports

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(client, users, dashboard_config):
    record_exports()
    deliver_audiences(client, users, dashboard_config)
    with on(TODAY, 12):
        return scope_figures(conf.get_scope("default"))


def test_the_window_is_today_and_the_days_before_it(figures):
    assert len(figures.window.days) == WINDOW_DAYS
    assert figures.window.days[-1] == TODAY
    assert figures.window.days[0] == days_ago(WINDOW_DAYS - 1)


def test_the_last_export_of_each_stream_full_and_draft_apart(figures):
    last = [
        (item.run.kind, item.run.draft, item.run.status, item.run.rows, item.rows_per_second)
        for item in figures.last_exports
    ]
    assert last == [
        ("content", False, "failed", 200, pytest.approx(200 / 30)),
        ("user", False, "interrupted", 300, pytest.approx(5.0)),  # not the earlier success
        ("user", True, "succeeded", 100, pytest.approx(50.0)),
    ]
    assert figures.never_exported == ("product",)  # configured, never run


def test_export_runs_per_day_with_their_rows_and_time(figures):
    days = {day.day: day for day in figures.export_days}
    assert (days[days_ago(2)].runs, days[days_ago(2)].rows, days[days_ago(2)].seconds) == (
        {"succeeded": 1, "failed": 1},
        {"succeeded": 1000, "failed": 200},
        {"succeeded": 40.0, "failed": 30.0},
    )
    assert days[days_ago(1)].runs == {"interrupted": 1}
    assert days[TODAY].rows == {"succeeded": 100}
    assert sum(bool(day.runs) for day in figures.export_days) == 3


def test_deliveries_per_day_by_outcome(figures):
    outcomes = {day.day: day.outcomes for day in figures.delivery_days if day.outcomes}
    assert outcomes == {
        days_ago(3): {"applied": 1, "duplicate": 1, "rejected": 1},
        days_ago(1): {"applied": 2, "failed": 1},
        TODAY: {"queued": 1},
    }


def test_segment_sizes_are_those_the_sync_engine_recorded(figures):
    sizes = {history.segment.identifier: history.sizes for history in figures.segments}
    assert sizes == {  # "c" failed before it was applied: no segment
        "a": ((days_ago(3), 4), (days_ago(1), 5)),
        "b": ((days_ago(1), 8),),  # today's delivery of b is still queued
    }


def test_a_segment_starts_where_it_stood_before_the_window(figures):
    with on(TODAY + timedelta(days=WINDOW_DAYS - 2), 12):
        later = scope_figures(conf.get_scope("default"))
    [a, b] = later.segments
    assert (a.size_before, a.sizes, a.latest) == (4, ((days_ago(1), 5),), 5)
    assert (b.size_before, b.sizes, b.latest) == (None, ((days_ago(1), 8),), 8)


def test_a_scope_with_no_history_has_none(figures, dashboard_config):
    dashboard_config(**QUIET_SCOPE)
    quiet = scope_figures(conf.get_scope("quiet"))
    assert not quiet.has_history
    assert quiet.last_exports == () and quiet.segments == ()
    assert figures.has_history
