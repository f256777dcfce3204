"""The membership writers: one contract, kept by the ORM writer and (on PostgreSQL) the COPY one."""

from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import Segment, SegmentMembership
from cdp_bridge.webhook import writers
from cdp_bridge.webhook.writers import (
    MembershipChange,
    OrmMembershipWriter,
    PostgresMembershipWriter,
    membership_writer,
)

from ..conftest import needs_postgresql

pytestmark = pytest.mark.django_db

on_postgresql = needs_postgresql("the PostgreSQL writer needs PostgreSQL")


@pytest.fixture(
    params=[
        pytest.param("orm"),
        pytest.param("postgresql-unnest", marks=on_postgresql),
        pytest.param("postgresql-copy", marks=on_postgresql),
    ]
)
def writer_for(request, monkeypatch, group):
    """A function making the writer under test for a person identifier field."""
    if request.param == "postgresql-copy":
        monkeypatch.setattr(writers, "COPY_FROM", 1)  # every set goes through COPY
    cls = OrmMembershipWriter if request.param == "orm" else PostgresMembershipWriter

    def make(field_name=None):
        person = PersonIdentifier.named(field_name)
        return cls(person), person

    return make


@pytest.fixture
def segment(group):
    return Segment.objects.create(group=group, identifier="a")


def in_segment(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("user__username", flat=True)
    )


def pks(users):
    return {user.pk for user in users}


def test_replace_makes_the_segment_hold_exactly_the_users_named(writer_for, segment, users):
    writer, _ = writer_for()
    assert writer.replace(segment.pk, pks(users[:4])) == MembershipChange(4, 0, 4)
    change = writer.replace(segment.pk, pks(users[2:6]))
    assert change == MembershipChange(added=2, removed=2, matched=4)
    assert in_segment(segment) == {"user2", "user3", "user4", "user5"}
    assert writer.replace(segment.pk, set()) == MembershipChange(0, 4, 0)
    assert in_segment(segment) == set()


def test_ids_of_no_user_are_not_matched_and_not_written(writer_for, segment, users):
    writer, _ = writer_for()
    change = writer.replace(segment.pk, {users[0].pk, 10**12, -5})
    assert change == MembershipChange(1, 0, 1)
    assert in_segment(segment) == {"user0"}


def test_change_adds_and_removes_and_tolerates_what_is_already_so(writer_for, segment, users):
    writer, _ = writer_for()
    writer.replace(segment.pk, pks(users[:3]))
    change = writer.change(segment.pk, added=pks(users[2:5]), removed=pks(users[:1]) | {10**12})
    assert change == MembershipChange(added=2, removed=1, matched=4)
    assert in_segment(segment) == {"user1", "user2", "user3", "user4"}


def test_other_segments_are_left_alone(writer_for, group, segment, users):
    writer, _ = writer_for()
    other = Segment.objects.create(group=group, identifier="b")
    writer.replace(other.pk, pks(users))
    writer.replace(segment.pk, pks(users[:2]))
    writer.change(segment.pk, added=set(), removed=pks(users))
    assert len(in_segment(other)) == 10


def test_text_identifiers_match_the_person_identifier_field(writer_for, segment):
    awkward = ["tab\there", "back\\slash", "new\nline", "quote'\"", "ünïcode", "plain"]
    for name in awkward:
        User.objects.create_user(name)
    writer, person = writer_for("username")
    identifiers = person.convert([*awkward, "nobody"]).values
    change = writer.replace(segment.pk, identifiers)
    assert change == MembershipChange(6, 0, 6)
    assert in_segment(segment) == set(awkward)


@on_postgresql
def test_on_postgresql_a_small_change_is_one_statement(group, segment, users):
    writer = membership_writer(PersonIdentifier.named(None))
    writer.replace(segment.pk, pks(users[:5]))
    with CaptureQueriesContext(connection) as statements:
        change = writer.replace(segment.pk, pks(users[3:]))
    assert change == MembershipChange(added=5, removed=3, matched=7)
    assert len(statements) == 1


# -- plans: no statement can go quadratic, whatever PostgreSQL's statistics say -------------------


def has_plan(sql):
    """Whether the statement is planned (not DDL, ANALYZE, or a setting)."""
    words = sql.lstrip().upper()
    if "SET_CONFIG" in words:
        return False
    planned = words.startswith(("WITH", "INSERT", "DELETE", "UPDATE", "SELECT"))
    return planned or (words.startswith("CREATE") and " AS " in words)


def plan_work(node):
    """The rows a plan node and those under it handled: read, returned or filtered out."""
    loops = node.get("Actual Loops", 0)
    handled = node.get("Actual Rows", 0) + sum(
        node.get(key, 0)
        for key in (
            "Rows Removed by Filter",
            "Rows Removed by Join Filter",
            "Rows Removed by Index Recheck",
        )
    )
    return loops * handled + sum(plan_work(child) for child in node.get("Plans", []))


def membership_work(node):
    """The rows of the membership table a plan read or filtered out."""
    own = 0
    if (
        node.get("Relation Name") == SegmentMembership._meta.db_table
        and "Scan" in node["Node Type"]
    ):
        own = node.get("Actual Loops", 0) * (
            node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        )
    return own + sum(membership_work(child) for child in node.get("Plans", []))


def scanning_loops(node):
    """Nested loops of the plan whose inner side is not looked up by index, but scanned."""
    found = []
    children = node.get("Plans", [])
    if node["Node Type"] == "Nested Loop":
        inner = next(child for child in children if child["Parent Relationship"] == "Inner")
        while inner["Node Type"] == "Memoize":
            inner = inner["Plans"][0]
        if inner["Node Type"] not in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
            found.append(f"{node.get('Join Type')} join scanning {inner['Node Type']}")
    for child in children:
        found += scanning_loops(child)
    return found


@contextmanager
def work_of_each_statement():
    """Each planned statement's work and scanning loops, from EXPLAIN ANALYZE (then undone)."""
    measured = []

    def explain_first(execute, sql, params, many, context):
        if has_plan(sql):
            raw = context["cursor"].cursor
            raw.execute("SAVEPOINT explained")
            raw.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = raw.fetchone()[0][0]["Plan"]
            measured.append((plan_work(plan), scanning_loops(plan), membership_work(plan), sql))
            raw.execute("ROLLBACK TO SAVEPOINT explained")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain_first):
        yield measured


@on_postgresql
@pytest.mark.parametrize("path", ["unnest", "copy"])
@pytest.mark.parametrize("statistics", ["of an empty table", "of another segment"])
def test_a_sync_does_work_in_proportion_to_its_size_whatever_the_statistics(
    group, monkeypatch, path, statistics
):
    """Stale statistics (every fresh install, any table that grew since it was analysed) must
    not let the planner pick a nested loop that visits every member once per member: every
    loop looks its inner side up by index, and the rows handled grow with the size."""
    if path == "copy":
        monkeypatch.setattr(writers, "COPY_FROM", 1)
    size = 2000
    people = User.objects.bulk_create(User(username=f"p{n}") for n in range(2 * size))
    writer = membership_writer(PersonIdentifier.named(None))
    other, segment = (Segment.objects.create(group=group, identifier=i) for i in ("other", "x"))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SegmentMembership._meta.db_table}")
        if statistics == "of another segment":
            writer.replace(other.pk, pks(people[:50]))
        cursor.execute(f"ANALYZE {SegmentMembership._meta.db_table}")
    changes = [
        lambda: writer.replace(segment.pk, pks(people[:size])),  # the first delivery
        lambda: writer.replace(segment.pk, pks(people[size // 2 : size + size // 2])),  # re-sync
        lambda: writer.change(segment.pk, pks(people[size:]), pks(people[: size // 2])),
    ]
    for change in changes:
        with work_of_each_statement() as measured:
            change()
        assert measured
        for work, loops, _, sql in measured:
            assert loops == [], f"{loops} in: {sql}"
            assert work <= 50 * size, f"{work} rows handled for {size} members by: {sql}"
    assert SegmentMembership.objects.filter(segment=segment).count() == 2 * size - size // 2
    if path == "unnest":  # a small delta reads memberships in proportion to itself
        with work_of_each_statement() as measured:
            writer.change(segment.pk, pks(people[:10]), pks(people[-10:]))
        assert [(members, sql) for _, _, members, sql in measured if members > 100] == []
