"""Charts drawn on the server, as SVG markup in the page: no script, no file from elsewhere.

This module lays the charts out (every coordinate, label and text alternative); the templates
under ``admin/cdp_bridge/dashboard/`` write them. Each series has a pattern as well as a colour,
so a chart reads in greyscale and to readers who do not tell the colours apart; what went wrong
is marked with a shape and a number; each chart has a title and a description that says what it
shows in words, and the page puts a table of the same figures beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format
from django.utils.translation import gettext as _

WIDTH = 720
HEIGHT = 250
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 40, 26  # room for the y labels, the legend, the x labels
MARK_ROOM = 34  # above the highest bar, for the marks
LEGEND_Y = 10
SLOT_FILL = 0.7  # the share of its day a bar fills
LINE_WIDTH, LINE_HEIGHT = 320, 70
LINE_LEFT, LINE_RIGHT, LINE_TOP, LINE_BOTTOM = 60, 8, 8, 18


@dataclass(frozen=True)
class Style:
    """How one series is drawn: a colour, and a pattern that tells it apart without colour."""

    key: str
    label: str
    colour: str
    pattern: str  # solid, diagonal, crossed, dotted, striped or hollow


@dataclass(frozen=True)
class Layer:
    """One series of a stacked bar chart: a value per day."""

    style: Style
    values: Sequence[float]


@dataclass(frozen=True)
class Marking:
    """Days to mark with a shape and a count: failed runs, interrupted runs."""

    shape: str  # cross or triangle
    label: str
    counts: Sequence[int]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    style: Style
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Mark:
    """A shape with a count beside it, above a day's bar."""

    x: float
    y: float
    shape: str
    count: int
    title: str

    @property
    def path(self) -> str:
        return shape_path(self.shape, self.x, self.y)

    @property
    def text_x(self) -> float:
        return round(self.x + 8, 1)


@dataclass(frozen=True)
class LegendEntry:
    """A swatch of a series' fill, or a mark's shape, and its label."""

    x: float
    label: str
    style: Style | None = None
    shape: str = ""

    @property
    def path(self) -> str:
        return shape_path(self.shape, self.x + 7, LEGEND_Y + 7)

    @property
    def text_x(self) -> float:
        return round(self.x + 20, 1)


def shape_path(shape: str, x: float, y: float, size: float = 5) -> str:
    """The outline of a mark centred on (x, y): a cross or a triangle."""
    if shape == "cross":
        return (
            f"M {x - size:.1f} {y - size:.1f} L {x + size:.1f} {y + size:.1f} "
            f"M {x + size:.1f} {y - size:.1f} L {x - size:.1f} {y + size:.1f}"
        )
    corners = [(x, y - size), (x + size, y + size), (x - size, y + size)]
    return "M " + " L ".join(f"{cx:.1f} {cy:.1f}" for cx, cy in corners) + " Z"


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    styles: tuple[Style, ...]
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    marks: tuple[Mark, ...]
    legend: tuple[LegendEntry, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    legend_y: int = LEGEND_Y
    legend_text_y: int = LEGEND_Y + 11
    y_label_x: int = LEFT - 6
    x_label_y: int = HEIGHT - BOTTOM + 16


def r(value: float) -> float:
    """A coordinate, to a tenth of a pixel."""
    return round(value, 1)


def short_day(day: date) -> str:
    return date_format(day, "j M")


def daily_bars(
    chart_id: str,
    title: str,
    days: Sequence[date],
    layers: Sequence[Layer],
    show: Callable[[float], str],
    markings: Sequence[Marking] = (),
    *,
    counts: bool = True,
) -> BarChart:
    """Stacked bars, one per day, the first layer at the bottom; ``show`` writes a value.

    Values that are ``counts`` get whole steps on the axis.
    """
    totals = [sum(layer.values[index] for layer in layers) for index in range(len(days))]
    step, top_value = _scale(max(totals, default=0), smallest_step=1 if counts else 0)
    plot_top, plot_bottom = TOP + MARK_ROOM, HEIGHT - BOTTOM
    per_unit = (plot_bottom - plot_top) / top_value
    slot = (WIDTH - RIGHT - LEFT) / len(days)
    bars, marks = [], []
    for index, day in enumerate(days):
        x = LEFT + slot * index + slot * (1 - SLOT_FILL) / 2
        base = float(plot_bottom)
        for layer in layers:
            value = layer.values[index]
            if value <= 0:
                continue
            height = value * per_unit
            base -= height
            tip = f"{short_day(day)}, {layer.style.label}: {show(value)}"
            bars.append(Bar(r(x), r(base), r(slot * SLOT_FILL), r(height), layer.style, tip))
        mark_y = base - 10
        for marking in markings:
            count = marking.counts[index]
            if count:
                tip = f"{short_day(day)}, {marking.label}: {count}"
                marks.append(
                    Mark(r(x + slot * SLOT_FILL / 2), r(mark_y), marking.shape, count, tip)
                )
                mark_y -= 14
    y_ticks = tuple(
        Tick(r(plot_bottom - value * per_unit), show(value))
        for value in _tick_values(step, top_value)
    )
    last = len(days) - 1
    x_ticks = tuple(
        Tick(r(LEFT + slot * (index + 0.5)), short_day(day))
        for index, day in enumerate(days)
        if (last - index) % 7 == 0
    )
    styles = tuple(layer.style for layer in layers)
    return BarChart(
        id=chart_id,
        title=title,
        description=_describe(days, layers, totals, show, markings),
        styles=styles,
        bars=tuple(bars),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        marks=tuple(marks),
        legend=_legend(styles, markings),
    )


def _scale(highest: float, smallest_step: float) -> tuple[float, float]:
    """A round step (1, 2 or 5 times a power of ten) and the top of the axis: four steps or so."""
    if highest <= 0:
        return 1.0, 1.0
    rough = max(highest / 4, smallest_step)
    power = 10 ** math.floor(math.log10(rough))
    step = next(power * factor for factor in (1, 2, 5, 10) if power * factor >= rough)
    return step, step * math.ceil(highest / step)


def _tick_values(step: float, top: float) -> list[float]:
    return [step * count for count in range(round(top / step) + 1)]


def _legend(styles: Sequence[Style], markings: Sequence[Marking]) -> tuple[LegendEntry, ...]:
    entries, x = [], float(LEFT)
    for style in styles:
        entries.append(LegendEntry(r(x), style.label, style=style))
        x += 26 + 7 * len(style.label)
    for marking in markings:
        entries.append(LegendEntry(r(x), marking.label, shape=marking.shape))
        x += 26 + 7 * len(marking.label)
    return tuple(entries)


def _describe(
    days: Sequence[date],
    layers: Sequence[Layer],
    totals: Sequence[float],
    show: Callable[[float], str],
    markings: Sequence[Marking],
) -> str:
    """The chart in words: the totals of each series over the days, and the highest day."""
    parts = [f"{layer.style.label}: {show(sum(layer.values))}" for layer in layers]
    parts += [f"{marking.label}: {sum(marking.counts)}" for marking in markings]
    text = _("%(first)s to %(last)s: %(totals)s.") % {
        "first": short_day(days[0]),
        "last": short_day(days[-1]),
        "totals": "; ".join(parts),
    }
    if max(totals, default=0) > 0:
        highest = max(range(len(days)), key=lambda index: totals[index])
        text += " " + _("Highest on %(day)s: %(value)s.") % {
            "day": short_day(days[highest]),
            "value": show(totals[highest]),
        }
    return text


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class SizeLine:
    """A segment's size as a step line over the window: it holds until the next sync changes it."""

    id: str
    title: str
    description: str
    path: str
    points: tuple[Point, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = LINE_WIDTH
    height: int = LINE_HEIGHT
    left: int = LINE_LEFT
    right: int = LINE_WIDTH - LINE_RIGHT
    top: int = LINE_TOP
    bottom: int = LINE_HEIGHT - LINE_BOTTOM
    y_label_x: int = LINE_LEFT - 5
    x_label_y: int = LINE_HEIGHT - 4


def size_line(
    chart_id: str,
    title: str,
    days: Sequence[date],
    sizes: Sequence[tuple[date, int]],
    size_before: int | None,
    show: Callable[[float], str],
) -> SizeLine | None:
    """The line of ``sizes`` (recorded days), starting from ``size_before`` if known."""
    values = [members for _, members in sizes]
    if size_before is not None:
        values.append(size_before)
    if not values:
        return None
    low, high = min(values), max(values)
    flat = low == high
    if flat:  # drawn across the middle
        low, high = low - 1, high + 1
    top, bottom = LINE_TOP, LINE_HEIGHT - LINE_BOTTOM
    slot = (LINE_WIDTH - LINE_RIGHT - LINE_LEFT) / len(days)
    index = {day: position for position, day in enumerate(days)}

    def y(value: float) -> float:
        return bottom - (value - low) * (bottom - top) / (high - low)

    def x(day: date) -> float:
        return LINE_LEFT + slot * (index[day] + 0.5)

    steps: list[str] = []
    if size_before is not None:
        steps.append(f"M {LINE_LEFT:.1f} {y(size_before):.1f}")
    for day, members in sizes:
        command = "L" if steps else "M"
        if steps:
            steps.append(f"H {x(day):.1f}")
        steps.append(f"{command} {x(day):.1f} {y(members):.1f}")
    steps.append(f"H {LINE_WIDTH - LINE_RIGHT:.1f}")
    points = tuple(
        Point(r(x(day)), r(y(members)), f"{short_day(day)}: {show(members)}")
        for day, members in sizes
    )
    if flat:
        y_ticks: tuple[Tick, ...] = (Tick(r(y(values[0])), show(values[0])),)
    else:
        y_ticks = (Tick(r(y(high)), show(high)), Tick(r(y(low)), show(low)))
    x_ticks = (
        Tick(LINE_LEFT, short_day(days[0])),
        Tick(LINE_WIDTH - LINE_RIGHT, short_day(days[-1])),
    )
    return SizeLine(
        chart_id,
        title,
        _describe_sizes(days, sizes, size_before, show),
        " ".join(steps),
        points,
        y_ticks,
        x_ticks,
    )


def _describe_sizes(
    days: Sequence[date],
    sizes: Sequence[tuple[date, int]],
    size_before: int | None,
    show: Callable[[float], str],
) -> str:
    if not sizes:
        assert size_before is not None
        return _("%(size)s throughout, %(first)s to %(last)s.") % {
            "size": show(size_before),
            "first": short_day(days[0]),
            "last": short_day(days[-1]),
        }
    if size_before is None and len(sizes) == 1:
        return _("%(size)s on %(day)s, the first size recorded.") % {
            "size": show(sizes[0][1]),
            "day": short_day(sizes[0][0]),
        }
    if size_before is not None:
        start = _("%(size)s before %(day)s") % {
            "size": show(size_before),
            "day": short_day(days[0]),
        }
    else:
        start = _("%(size)s on %(day)s") % {
            "size": show(sizes[0][1]),
            "day": short_day(sizes[0][0]),
        }
    lowest = min(sizes, key=lambda size: size[1])
    highest = max(sizes, key=lambda size: size[1])
    return _(
        "From %(start)s to %(last)s on %(last_day)s; lowest %(lowest)s (%(lowest_day)s), "
        "highest %(highest)s (%(highest_day)s)."
    ) % {
        "start": start,
        "last": show(sizes[-1][1]),
        "last_day": short_day(sizes[-1][0]),
        "lowest": show(lowest[1]),
        "lowest_day": short_day(lowest[0]),
        "highest": show(highest[1]),
        "highest_day": short_day(highest[0]),
    }
