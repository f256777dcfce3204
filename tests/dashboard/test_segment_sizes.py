"""The size history the sync engine writes: one row per segment and day, exact, set-based."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.models import Segment, SegmentSize
from cdp_bridge.models.segment_sizes import KEPT_FOR

from ..conftest import needs_postgresql
from ..webhook.conftest import audience, delivery, ids, post
from .conftest import TODAY, days_ago, on

pytestmark = pytest.mark.django_db


def sizes(identifier="5d822e81"):
    """The recorded (day, members) of a segment, oldest first."""
    return list(
        SegmentSize.objects.filter(segment__identifier=identifier)
        .order_by("day")
        .values_list("day", "members")
    )


def test_each_applied_audience_records_its_segments_size_for_the_day(client, group, users):
    with on(days_ago(2)):
        post(client, delivery(audience(members=[*ids(users[:4]), "999999"])))  # one unknown
    with on(days_ago(1)):
        post(
            client, delivery(audience(sync="delta", added=ids(users[6:8]), removed=ids(users[:1])))
        )
    assert sizes() == [(days_ago(2), 4), (days_ago(1), 5)]


def test_the_days_last_sync_is_the_days_size(client, group, users):
    with on(TODAY, 8):
        post(client, delivery(audience(members=ids(users[:6]))))
    with on(TODAY, 17, 30):
        post(client, delivery(audience(members=ids(users[:2]))))
    [row] = SegmentSize.objects.all()
    assert (row.day, row.members) == (TODAY, 2)
    assert row.recorded_at.hour == 17


def test_a_stale_audience_records_nothing_and_an_empty_segment_records_zero(client, group, users):
    with on(days_ago(1)):
        post(client, delivery(audience(sequence=5, members=ids(users[:3]))))
    with on(TODAY):
        post(client, delivery(audience(sequence=4, members=ids(users))))  # stale
        post(client, delivery(audience("b", members=[])))
    assert sizes() == [(days_ago(1), 3)]
    assert sizes("b") == [(TODAY, 0)]


def test_a_day_is_a_day_of_the_sites_time_zone(client, group, users, settings):
    settings.TIME_ZONE = "Europe/Oslo"  # UTC+2 in summer
    with on(days_ago(1), 22, 30):  # 00:30 the next day in Oslo
        post(client, delivery(audience(members=ids(users[:3]))))
    assert sizes() == [(TODAY, 3)]


def test_one_statement_records_every_audience_of_a_delivery_whatever_its_size(client, group, users):
    """Set-based: the same statements for two audiences of two members or five of ten."""

    def history_statements(body):
        with CaptureQueriesContext(connection) as queries:
            assert post(client, body).status_code == 200
        table = SegmentSize._meta.db_table
        return [query["sql"].split()[0] for query in queries if table in query["sql"]]

    small = history_statements(delivery(audience("a", members=ids(users[:2]))))
    large = history_statements(
        delivery(*(audience(name, members=ids(users)) for name in ("a", "b", "c", "d", "e")))
    )
    assert small == large == ["INSERT", "DELETE"]  # the sizes, then what is past keeping
    assert dict(SegmentSize.objects.values_list("segment__identifier", "members")) == {
        name: len(users) for name in "abcde"
    }


def test_history_older_than_its_keeping_is_deleted_as_new_sizes_are_written(client, group, users):
    with on(TODAY - KEPT_FOR - timedelta(days=1)):
        post(client, delivery(audience(members=ids(users[:1]))))
    with on(TODAY - KEPT_FOR):
        post(client, delivery(audience(members=ids(users[:2]))))
    with on(TODAY):
        post(client, delivery(audience(members=ids(users[:3]))))
    assert sizes() == [(TODAY - KEPT_FOR, 2), (TODAY, 3)]


def test_a_removed_audience_takes_its_history_with_it(client, group, users):
    with on(days_ago(1)):
        post(client, delivery(audience(members=ids(users[:3]))))
    with on(TODAY):
        post(client, delivery(removed_audiences=["5d822e81"]))
    assert not Segment.objects.exists()
    assert not SegmentSize.objects.exists()


def test_a_delta_adds_what_it_changed_to_the_last_size_and_a_full_sync_counts(client, group, users):
    """A delta costs what it changes, not a count of the segment: a member who left without
    the CDP (their account deleted) is counted out by the next full sync."""
    with on(days_ago(2)):
        post(client, delivery(audience(members=ids(users[:4]))))
    users[0].delete()
    with on(days_ago(1)):
        post(
            client, delivery(audience(sync="delta", added=ids(users[4:6]), removed=ids(users[1:2])))
        )
    with on(TODAY):
        post(client, delivery(audience(members=ids(users[1:7]))))
    assert sizes() == [(days_ago(2), 4), (days_ago(1), 5), (TODAY, 6)]  # 4 - 1 + 2 - 1 = 4 in fact


def test_a_delta_into_a_segment_with_no_size_recorded_counts_it(client, group, users):
    with on(days_ago(1)):
        post(client, delivery(audience(members=ids(users[:4]))))
    SegmentSize.objects.all().delete()  # as before the upgrade that brought the history
    with on(TODAY):
        post(client, delivery(audience(sync="delta", added=ids(users[4:5]), removed=[])))
    assert sizes() == [(TODAY, 5)]


on_postgresql = needs_postgresql("what a statement reads is PostgreSQL's EXPLAIN ANALYZE")


def membership_reads(body, client):
    """How often the size statement of a delivery read the membership table (EXPLAIN ANALYZE)."""
    table, memberships = SegmentSize._meta.db_table, "cdp_bridge_segmentmembership"
    plans = []

    def explain_first(execute, sql, params, many, context):
        if sql.startswith(f'INSERT INTO "{table}"'):
            raw = context["cursor"].cursor
            raw.execute("SAVEPOINT explained")
            raw.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plans.append(raw.fetchone()[0][0]["Plan"])
            raw.execute("ROLLBACK TO SAVEPOINT explained")
        return execute(sql, params, many, context)

    def loops(node):
        own = node.get("Actual Loops", 0) if node.get("Relation Name") == memberships else 0
        return own + sum(loops(child) for child in node.get("Plans", []))

    with connection.execute_wrapper(explain_first):
        assert post(client, body).status_code == 200
    [plan] = plans
    return loops(plan)


@on_postgresql
def test_only_a_full_sync_reads_the_segments_members(client, group, users):
    assert membership_reads(delivery(audience(members=ids(users[:6]))), client) == 1
    delta = delivery(audience(sync="delta", added=ids(users[6:8]), removed=ids(users[:1])))
    assert membership_reads(delta, client) == 0  # the last size, and what the delta changed
    assert sizes()[-1][1] == 7
