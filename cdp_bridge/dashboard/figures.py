"""What the dashboard shows of one scope, read from the records the app keeps.

A fixed handful of queries whatever the history holds: each aggregate is computed by the
database (per day, per status), never a query per stream, segment or day. Days are days of the
site's ``TIME_ZONE``: the window is today and the ``WINDOW_DAYS - 1`` days before it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Subquery, Sum
from django.db.models import Window as WindowExpression
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from cdp_bridge.conf import ScopeSettings
from cdp_bridge.models import ExportRun, Segment, SegmentSize, WebhookDelivery
from cdp_bridge.models.segment_sizes import site_day

WINDOW_DAYS = 30
RUN_STATUSES = (
    ExportRun.Status.SUCCEEDED,
    ExportRun.Status.FAILED,
    ExportRun.Status.INTERRUPTED,
    ExportRun.Status.RUNNING,
)
DELIVERY_OUTCOMES = (
    WebhookDelivery.Status.APPLIED,
    WebhookDelivery.Status.DUPLICATE,
    WebhookDelivery.Status.QUEUED,
    WebhookDelivery.Status.FAILED,
    WebhookDelivery.Status.REJECTED,
)


@dataclass(frozen=True)
class Window:
    """The days shown, oldest first, and the moment the first one starts."""

    days: tuple[date, ...]
    starts_at: datetime

    @classmethod
    def ending(cls, today: date) -> Window:
        days = tuple(today - timedelta(days=back) for back in range(WINDOW_DAYS - 1, -1, -1))
        start = datetime.combine(days[0], time.min)
        if settings.USE_TZ:
            start = timezone.make_aware(start, timezone.get_default_timezone())
        return cls(days, start)


@dataclass(frozen=True)
class LastExport:
    """The last run of one stream in one mode (full or draft)."""

    run: ExportRun

    @property
    def rows_per_second(self) -> float | None:
        """Rows sent per second of the run (so far, for one still running)."""
        end = self.run.finished_at or timezone.now()
        seconds = (end - self.run.started_at).total_seconds()
        return self.run.rows / seconds if seconds > 0 else None


@dataclass(frozen=True)
class ExportDay:
    """The export runs started on one day: per status, how many, their rows and their time."""

    day: date
    runs: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryDay:
    """The webhook deliveries received on one day, per outcome (their status now)."""

    day: date
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentHistory:
    """A segment's recorded sizes in the window, and the last one recorded before it."""

    segment: Segment
    sizes: tuple[tuple[date, int], ...]
    size_before: int | None

    @property
    def latest(self) -> int | None:
        return self.sizes[-1][1] if self.sizes else self.size_before


@dataclass(frozen=True)
class ScopeFigures:
    scope: str
    window: Window
    last_exports: tuple[LastExport, ...]
    never_exported: tuple[str, ...]  # kinds the scope configures that never ran
    export_days: tuple[ExportDay, ...]
    delivery_days: tuple[DeliveryDay, ...]
    segments: tuple[SegmentHistory, ...]

    @property
    def has_history(self) -> bool:
        return bool(
            self.last_exports
            or any(day.runs for day in self.export_days)
            or any(day.outcomes for day in self.delivery_days)
            or any(history.latest is not None for history in self.segments)
        )


def scope_figures(scope: ScopeSettings) -> ScopeFigures:
    """Everything the dashboard shows of ``scope``."""
    ExportRun.objects.mark_interrupted()  # a run whose process died is shown as what it is
    window = Window.ending(site_day(timezone.now()))
    last = last_exports(scope.name)
    ran = {item.run.kind for item in last}
    return ScopeFigures(
        scope=scope.name,
        window=window,
        last_exports=last,
        never_exported=tuple(kind for kind in scope.data_export if kind not in ran),
        export_days=export_days(scope.name, window),
        delivery_days=delivery_days(scope.name, window),
        segments=segment_histories(scope, window),
    )


def last_exports(scope: str) -> tuple[LastExport, ...]:
    """The last run of each stream of ``scope``, full and draft apart; one query."""
    latest_first = [F("started_at").desc(), F("pk").desc()]
    ranked = ExportRun.objects.filter(scope=scope).annotate(
        rank=WindowExpression(
            RowNumber(),
            partition_by=[F("kind"), F("source"), F("transport"), F("stream_id"), F("draft")],
            order_by=latest_first,
        )
    )
    runs = ranked.filter(rank=1).order_by("kind", "source", "draft", "-started_at")
    return tuple(LastExport(run) for run in runs)


def export_days(scope: str, window: Window) -> tuple[ExportDay, ...]:
    """Runs per day and status, with their rows and time (of those that ended); one query."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    rows = (
        ExportRun.objects.filter(scope=scope, started_at__gte=window.starts_at)
        .annotate(day=_day("started_at"))
        .values("day", "status")
        .annotate(runs=Count("pk"), rows_sent=Sum("rows"), time=Sum(duration))
        .order_by()
    )
    days = {day: ExportDay(day) for day in window.days}
    for row in rows:
        day = days.get(row["day"])
        if day is not None:
            status = row["status"]
            day.runs[status] = row["runs"]
            day.rows[status] = row["rows_sent"] or 0
            day.seconds[status] = row["time"].total_seconds() if row["time"] else 0.0
    return tuple(days.values())


def delivery_days(scope: str, window: Window) -> tuple[DeliveryDay, ...]:
    """Deliveries per day and outcome; one query."""
    rows = (
        WebhookDelivery.objects.filter(scope=scope, received_at__gte=window.starts_at)
        .annotate(day=_day("received_at"))
        .values("day", "status")
        .annotate(deliveries=Count("pk"))
        .order_by()
    )
    days = {day: DeliveryDay(day) for day in window.days}
    for row in rows:
        day = days.get(row["day"])
        if day is not None:
            day.outcomes[row["status"]] = row["deliveries"]
    return tuple(days.values())


def segment_histories(scope: ScopeSettings, window: Window) -> tuple[SegmentHistory, ...]:
    """The segments of the scope's activations' groups with their sizes; two queries.

    Both read the history through its (segment, day) index: the window's rows, and for each
    segment the last row before the window, so that a line starts where the segment stood.
    """
    groups = sorted({activation.segment_group_identifier for activation in scope.activations})
    before = SegmentSize.objects.filter(segment=OuterRef("pk"), day__lt=window.days[0])
    segments = list(
        Segment.objects.filter(group__identifier__in=groups)
        .select_related("group")
        .annotate(size_before=Subquery(before.order_by("-day").values("members")[:1]))
        .order_by("group__identifier", "identifier")
    )
    if not segments:
        return ()
    rows = (
        SegmentSize.objects.filter(
            segment_id__in=[segment.pk for segment in segments], day__gte=window.days[0]
        )
        .order_by("segment_id", "day")
        .values_list("segment_id", "day", "members")
    )
    sizes: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for segment_id, day, members in rows:
        sizes[segment_id].append((day, members))
    return tuple(
        SegmentHistory(segment, tuple(sizes[segment.pk]), segment.size_before)  # type: ignore[attr-defined]
        for segment in segments
    )


def _day(field_name: str) -> TruncDate:
    return TruncDate(field_name, tzinfo=timezone.get_default_timezone())
