"""Each segment's size over time: the history the admin's CDP dashboard draws.

The sync engine records it whenever it applies audiences: one row per segment and day, holding
the segment's member count after the day's last applied audience. A day is a day of the site's
``TIME_ZONE``. Rows older than ``KEPT_FOR`` are deleted as newer ones are written, so a segment
has at most a little over a year of rows (400), whatever the number of deliveries; a removed
segment's history goes with it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.db import connections, models
from django.db.models import Value
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


class SegmentSizeQuerySet(models.QuerySet["SegmentSize"]):
    def record(self, segment_ids: Collection[int]) -> None:
        """Record the sizes of the segments as they are now, in the transaction that changed them.

        One statement for all of them, whatever their sizes: the members are counted in the
        database (``INSERT … SELECT``, an index-only count per segment on PostgreSQL) and today's
        row of each segment is inserted or replaced. Counted inside the transaction that wrote
        the members, under the segments' row locks, the sizes are exact. Runs on PostgreSQL and
        SQLite (``ON CONFLICT … DO UPDATE``).
        """
        if not segment_ids:
            return
        now = timezone.now()
        today = site_day(now)
        connection = connections[self.db]
        sizes = (
            Segment.objects.db_manager(self.db)
            .filter(pk__in=list(segment_ids))
            .order_by()
            .with_member_count()
            .values_list(
                "pk",
                Value(today, output_field=models.DateField()),
                "member_count",
                Value(now, output_field=models.DateTimeField()),
            )
        )
        select, params = sizes.query.get_compiler(connection=connection).as_sql()
        quote = connection.ops.quote_name
        opts = self.model._meta
        names = ("segment", "day", "members", "recorded_at")  # the order of the SELECT's values
        columns = [
            str(cast("models.Field[Any, Any]", opts.get_field(name)).column) for name in names
        ]
        table = quote(opts.db_table)
        # The SELECT has a WHERE, which SQLite needs to read the ON CONFLICT that follows it.
        sql = (
            f"INSERT INTO {table} ({', '.join(map(quote, columns))}) {select} "
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
