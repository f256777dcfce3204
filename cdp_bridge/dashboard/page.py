"""The dashboard of one scope as the page shows it: its figures as charts and as tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.dashboard.charts import (
    BarChart,
    Layer,
    Marking,
    SizeLine,
    Style,
    daily_bars,
    short_day,
    size_line,
)
from cdp_bridge.dashboard.figures import (
    DELIVERY_OUTCOMES,
    RUN_STATUSES,
    ExportDay,
    LastExport,
    ScopeFigures,
    SegmentHistory,
)
from cdp_bridge.models import ExportRun, WebhookDelivery

Run, Outcome = ExportRun.Status, WebhookDelivery.Status
# Blue for what went well, red and amber for what did not; each with its own pattern too.
RUN_STYLES = {
    Run.SUCCEEDED: ("#2b6a99", "solid"),
    Run.FAILED: ("#b3261e", "diagonal"),
    Run.INTERRUPTED: ("#9a5b00", "dotted"),
    Run.RUNNING: ("#4d4d4d", "hollow"),
}
OUTCOME_STYLES = {
    Outcome.APPLIED: ("#2b6a99", "solid"),
    Outcome.DUPLICATE: ("#6b6b6b", "striped"),
    Outcome.QUEUED: ("#5b3f99", "dotted"),
    Outcome.FAILED: ("#b3261e", "diagonal"),
    Outcome.REJECTED: ("#9a5b00", "crossed"),
}
NOTHING = "-"  # as the admin shows an empty value
FAILED_RUNS = gettext_lazy("failed runs")
INTERRUPTED_RUNS = gettext_lazy("interrupted runs")


@dataclass(frozen=True)
class DayRow:
    """One line of a chart's table: the day and its figures, written out."""

    day: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[DayRow, ...]


@dataclass(frozen=True)
class Panel:
    """A chart and the table of its figures (for readers who cannot see the chart)."""

    chart: BarChart
    table: Table


@dataclass(frozen=True)
class StreamRow:
    last: LastExport
    started: str
    duration: str
    rows: str
    rows_per_second: str


@dataclass(frozen=True)
class SegmentRow:
    history: SegmentHistory
    latest: str
    change: str
    line: SizeLine | None
    table: Table


@dataclass(frozen=True)
class ScopePage:
    figures: ScopeFigures
    zone: str
    streams: tuple[StreamRow, ...]
    export_rows: Panel | None
    export_time: Panel | None
    deliveries: Panel | None
    segments: tuple[SegmentRow, ...]


def scope_page(figures: ScopeFigures) -> ScopePage:
    days = figures.window.days
    return ScopePage(
        figures=figures,
        zone=str(timezone.get_default_timezone()),
        streams=tuple(_stream_row(last) for last in figures.last_exports),
        export_rows=_export_panel("export-rows", figures.export_days, days, time=False),
        export_time=_export_panel("export-time", figures.export_days, days, time=True),
        deliveries=_delivery_panel(figures),
        segments=tuple(
            _segment_row(f"segment-{index}", history, days)
            for index, history in enumerate(figures.segments)
        ),
    )


def count(value: float) -> str:
    return number_format(round(value), force_grouping=True)


def local_time(moment: datetime) -> str:
    """A time in the site's time zone (with USE_TZ off, times are the site's already)."""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment, timezone.get_default_timezone())
    return moment.strftime("%Y-%m-%d %H:%M")


def duration(span: timedelta | None) -> str:
    if span is None:
        return NOTHING
    seconds = span.total_seconds()
    unit, show = _time_unit(seconds)
    return show(seconds / unit)


def _time_unit(highest: float) -> tuple[float, Callable[[float], str]]:
    """Seconds, minutes or hours, whichever suits ``highest`` seconds; and how to write them."""
    for unit, name in ((3600.0, _("h")), (60.0, _("min"))):
        if highest >= 2 * unit:
            return unit, lambda value, name=name: f"{number_format(value, 1)} {name}"
    return 1.0, lambda value: f"{number_format(value, 1)} {_('s')}"


def _stream_row(last: LastExport) -> StreamRow:
    run = last.run
    speed = last.rows_per_second
    return StreamRow(
        last=last,
        started=local_time(run.started_at),
        duration=duration(run.duration),
        rows=count(run.rows),
        rows_per_second=NOTHING if speed is None else count(speed),
    )


def _export_panel(
    chart_id: str, export_days: Sequence[ExportDay], days: Sequence[date], *, time: bool
) -> Panel | None:
    if not any(day.runs for day in export_days):
        return None
    if time:
        title = _("Time spent exporting per day")
        unit, show = _time_unit(max(sum(day.seconds.values()) for day in export_days))

        def value(day: ExportDay, status: str) -> float:
            return day.seconds.get(status, 0.0) / unit

    else:
        title = _("Rows exported per day")
        show = count

        def value(day: ExportDay, status: str) -> float:
            return float(day.rows.get(status, 0))

    layers = [
        Layer(
            _style(status, Run(status).label, RUN_STYLES),
            [value(day, status) for day in export_days],
        )
        for status in RUN_STATUSES
        if any(day.runs.get(status) for day in export_days)
    ]
    markings = [
        Marking("cross", str(FAILED_RUNS), [day.runs.get(Run.FAILED, 0) for day in export_days]),
        Marking(
            "triangle",
            str(INTERRUPTED_RUNS),
            [day.runs.get(Run.INTERRUPTED, 0) for day in export_days],
        ),
    ]
    markings = [marking for marking in markings if any(marking.counts)]
    chart = daily_bars(chart_id, title, days, layers, show, markings, counts=not time)
    headers = (
        _("Day"),
        *(str(Run(status).label) for status in RUN_STATUSES),
        _("Rows") if not time else _("Time"),
    )
    rows = tuple(
        DayRow(
            short_day(day.day),
            (
                *(count(day.runs.get(status, 0)) for status in RUN_STATUSES),
                show(sum(value(day, status) for status in RUN_STATUSES)),
            ),
        )
        for day in export_days
        if day.runs
    )
    return Panel(chart, Table(headers, rows))


def _delivery_panel(figures: ScopeFigures) -> Panel | None:
    delivery_days = figures.delivery_days
    if not any(day.outcomes for day in delivery_days):
        return None
    layers = [
        Layer(
            _style(outcome, Outcome(outcome).label, OUTCOME_STYLES),
            [float(day.outcomes.get(outcome, 0)) for day in delivery_days],
        )
        for outcome in DELIVERY_OUTCOMES
        if any(day.outcomes.get(outcome) for day in delivery_days)
    ]
    chart = daily_bars(
        "deliveries", _("Webhook deliveries per day"), figures.window.days, layers, count
    )
    headers = (_("Day"), *(str(Outcome(outcome).label) for outcome in DELIVERY_OUTCOMES), _("All"))
    rows = tuple(
        DayRow(
            short_day(day.day),
            (
                *(count(day.outcomes.get(outcome, 0)) for outcome in DELIVERY_OUTCOMES),
                count(sum(day.outcomes.values())),
            ),
        )
        for day in delivery_days
        if day.outcomes
    )
    return Panel(chart, Table(headers, rows))


def _segment_row(chart_id: str, history: SegmentHistory, days: Sequence[date]) -> SegmentRow:
    name = history.segment.name or history.segment.identifier
    line = size_line(
        chart_id,
        _("Members of %(segment)s per day") % {"segment": name},
        days,
        history.sizes,
        history.size_before,
        count,
    )
    first = history.size_before
    if first is None and history.sizes:
        first = history.sizes[0][1]
    latest = history.latest
    change = NOTHING if latest is None or first is None else _signed(latest - first)
    table = Table(
        (_("Day"), _("Members")),
        tuple(DayRow(short_day(day), (count(members),)) for day, members in history.sizes),
    )
    return SegmentRow(history, NOTHING if latest is None else count(latest), change, line, table)


def _style(key: str, label: str | Promise, styles: Mapping[Any, tuple[str, str]]) -> Style:
    colour, pattern = styles[key]
    return Style(key, str(label), colour, pattern)


def _signed(difference: int) -> str:
    return f"+{count(difference)}" if difference > 0 else count(difference)
