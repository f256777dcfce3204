"""The charts' layout: round axes, bars in proportion, marks, a size line that holds its value."""

from datetime import date, timedelta

import pytest

from cdp_bridge.dashboard import charts
from cdp_bridge.dashboard.charts import Layer, Marking, Style, daily_bars, size_line

DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(10)]
APPLIED = Style("applied", "applied", "#2b6a99", "solid")
FAILED = Style("failed", "failed", "#b3261e", "diagonal")


def show(value):
    return f"{value:g}"


@pytest.mark.parametrize(
    ("highest", "smallest", "axis"),
    [
        (0, 0, (1, 1)),
        (3, 1, (1, 3)),
        (3, 0, (1, 3)),
        (7, 0, (2, 8)),
        (372, 0, (100, 400)),
        (0.3, 0, (0.1, pytest.approx(0.3))),
    ],
)
def test_the_axis_rises_in_round_steps_to_just_above_the_highest_value(highest, smallest, axis):
    assert charts._scale(highest, smallest) == axis


def test_a_count_axis_never_has_a_step_below_one():
    chart = daily_bars("c", "Counts", DAYS, [Layer(APPLIED, [2] + [0] * 9)], show)
    assert [tick.label for tick in chart.y_ticks] == ["0", "1", "2"]


def test_stacked_bars_are_in_proportion_and_the_first_layer_is_at_the_bottom():
    applied = [4, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    failed = [4, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    chart = daily_bars(
        "c", "Deliveries", DAYS, [Layer(APPLIED, applied), Layer(FAILED, failed)], show
    )
    first_applied, first_failed, last_applied = chart.bars
    assert (first_applied.style, first_failed.style, last_applied.style) == (
        APPLIED,
        FAILED,
        APPLIED,
    )
    assert first_applied.height == pytest.approx(first_failed.height, abs=0.1)
    assert first_applied.height == pytest.approx(2 * last_applied.height, abs=0.1)
    assert first_failed.y + first_failed.height == pytest.approx(first_applied.y, abs=0.1)
    assert first_applied.y + first_applied.height == chart.bottom
    assert first_applied.title == "1 Mar, applied: 4"
    assert last_applied.x > first_applied.x


def test_marks_sit_above_their_days_bar_and_say_how_many():
    counts = [0] * 9 + [2]
    chart = daily_bars(
        "c",
        "Rows",
        DAYS,
        [Layer(APPLIED, [0] * 9 + [5])],
        show,
        [Marking("cross", "failed runs", counts)],
    )
    [bar], [mark] = chart.bars, chart.marks
    assert (mark.count, mark.shape, mark.title) == (2, "cross", "10 Mar, failed runs: 2")
    assert bar.x < mark.x < bar.x + bar.width and mark.y < bar.y
    assert [entry.label for entry in chart.legend] == ["applied", "failed runs"]


def test_the_description_gives_the_totals_and_the_highest_day():
    chart = daily_bars(
        "c", "Deliveries", DAYS, [Layer(APPLIED, [1] * 9 + [5]), Layer(FAILED, [0] * 9 + [1])], show
    )
    assert chart.description == ("1 Mar to 10 Mar: applied: 14; failed: 1. Highest on 10 Mar: 6.")


def test_a_size_line_holds_each_size_until_the_next_and_runs_to_today():
    line = size_line("s", "Members", DAYS, [(DAYS[2], 10), (DAYS[5], 20)], 15, show)
    # From the left edge at the size before the window, along, down to 10, along, up to 20, on.
    steps = line.path.split()
    assert steps[0] == "M" and steps[1] == str(charts.LINE_LEFT) + ".0"
    assert [command for command in steps if command.isalpha()] == ["M", "H", "L", "H", "L", "H"]
    assert float(steps[-1]) == line.right
    assert [point.title for point in line.points] == ["3 Mar: 10", "6 Mar: 20"]
    assert [tick.label for tick in line.y_ticks] == ["20", "10"]
    assert line.description == (
        "From 15 before 1 Mar to 20 on 6 Mar; lowest 10 (3 Mar), highest 20 (6 Mar)."
    )


def test_a_segment_with_no_size_has_no_line_and_an_unchanged_one_a_flat_line():
    assert size_line("s", "Members", DAYS, [], None, show) is None
    flat = size_line("s", "Members", DAYS, [], 7, show)
    assert [tick.label for tick in flat.y_ticks] == ["7"]
    assert flat.description == "7 throughout, 1 Mar to 10 Mar."
