"""Each segment's size over time: the history the admin's CDP dashboard draws.

The sync engine records it whenever it applies audiences: one row per segment and day, holding
the segment's member count after the day's last applied audience. A day is a day of the site's
``TIME_ZONE``. Rows older than ``KEPT_FOR`` are deleted as newer ones are written, so a segment
has at most a little over a year of rows (400), whatever the number of deliveries; a removed
segment's history goes with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, cast

from django.db import connections, models
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cdp_bridge.models.segments import Segment

# A year and a little more: this month can still be set beside the same month last year.
KEPT_FOR = timedelta(days=400)


def site_day(moment: datetime) -> date:
    """The day ``moment`` falls on in the site's ``TIME_ZONE``."""
    if timezone.is_naive(moment):  # USE_TZ = False: times are already the site's
        return moment.date()
    return timezone.localdate(moment, timezone.get_default_timezone())


class AppliedAudience(NamedTuple):
    """What an applied audience did to its segment: a full sync, or members added and removed."""

    segment_id: int
    full: bool
    added: int
    removed: int


class SegmentSizeQuerySet(models.QuerySet["SegmentSize"]):
    def record(self, applied: Iterable[AppliedAudience]) -> None:
        """Record the sizes of the segments as the audiences left them, in their transaction.

        One statement for all of them (``INSERT … SELECT … ON CONFLICT DO UPDATE``, on
        PostgreSQL and SQLite), replacing each segment's row of today. After a full sync the
        members are counted, through the membership index: that costs a fraction of the sync,
        which reads every member anyway. After a delta the size is the segment's last recorded
        size with the members the delta inserted added and those it deleted taken away, both
        counted by the statements that wrote them: a delta of a few members into a segment of
        millions costs what it changes, under the segment's row lock. So the sizes are exact
        as long as only the CDP changes the segment; members who leave it otherwise (a deleted
        account) are counted out by the next full sync. A segment with no size recorded yet is
        counted.
        """
        applied = list(applied)  # a segment at most once: a delivery names an audience once
        segment_ids = [audience.segment_id for audience in applied]
        if not segment_ids:
            return
        now = timezone.now()
        today = site_day(now)
        connection = connections[self.db]
        last = self.filter(segment=OuterRef("pk")).order_by("-day").values("members")[:1]
        delta = Case(
            *(
                When(pk=audience.segment_id, then=Value(audience.added - audience.removed))
                for audience in applied
                if audience.added != audience.removed
            ),
            default=Value(0),
            output_field=models.BigIntegerField(),
        )
        sizes = (
            Segment.objects.db_manager(self.db)
            .filter(pk__in=segment_ids)
            .order_by()
            .with_member_count()
            .annotate(
                # The count is taken only where it is needed (CASE and COALESCE stop early).
                size=Case(
                    When(
                        pk__in=[audience.segment_id for audience in applied if audience.full],
                        then=F("member_count"),
                    ),
                    # Never below nothing, should the last size be wrong (raw SQL).
                    default=Greatest(Coalesce(Subquery(last) + delta, F("member_count")), 0),
                )
            )
            .values_list(
                "pk",
                Value(today, output_field=models.DateField()),
                "size",
                Value(now, output_field=models.DateTimeField()),
            )
        )
        select, params = sizes.query.get_compiler(connection=connection).as_sql()
        quote = connection.ops.quote_name
        opts = self.model._meta
        names = ("segment", "day", "members", "recorded_at")  # the order of the SELECT's values
        fields = [cast("models.Field[Any, Any]", opts.get_field(name)) for name in names]
        columns = [str(field.column) for field in fields]
        # The SELECT has a WHERE, which SQLite needs to read the ON CONFLICT that follows it.
        sql = (
            f"INSERT INTO {quote(opts.db_table)} ({', '.join(map(quote, columns))}) {select} "
            f"ON CONFLICT ({quote(columns[0])}, {quote(columns[1])}) DO UPDATE SET "
            + ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in columns[2:])
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        self.filter(segment_id__in=segment_ids, day__lt=today - KEPT_FOR).delete()


class SegmentSize(models.Model):
    """How many members a segment had at the end of a day (after that day's last sync)."""

    id = models.BigAutoField(primary_key=True)
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="sizes", db_index=False
    )
    day = models.DateField(_("day"), help_text=_("A day of the site's TIME_ZONE."))
    members = models.PositiveBigIntegerField(_("members"))
    recorded_at = models.DateTimeField(
        _("recorded at"), help_text=_("When the size was last recorded that day.")
    )

    objects = SegmentSizeQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment size")
        verbose_name_plural = _("segment sizes")
        constraints = [
            # Its index, led by the segment, serves the dashboard's reads (segments, days since).
            models.UniqueConstraint(fields=["segment", "day"], name="cdp_segment_size_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.segment_id} on {self.day}: {self.members}"
