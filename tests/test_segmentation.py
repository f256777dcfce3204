"""The segmentation API, and the lock that protects a group an activation has connected to."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import ProgrammingError, connection, transaction
from django.db.models import QuerySet

from cdp_bridge import segmentation
from cdp_bridge.exceptions import SegmentGroupLocked
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership, SnapshotPart
from cdp_bridge.models.segments import cdp_writes

from .conftest import needs_postgresql

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    return segmentation.create_segment_group("newsletter", "Newsletter")


@pytest.fixture
def locked_group():
    group = segmentation.create_segment_group("cdp_audiences", "CDP audiences")
    Segment.objects.create(group=group, identifier="5d822e81", name="Cat owners")
    return segmentation.lock_segment_group(group)


@pytest.fixture
def alice():
    return User.objects.create_user("alice")


def test_groups_are_created_unlocked_and_loaded_by_identifier(group):
    loaded = segmentation.load_segment_group("newsletter")
    assert loaded == group
    assert loaded.locked_at is None
    with pytest.raises(SegmentGroup.DoesNotExist):
        segmentation.load_segment_group("missing")


def test_of_two_connections_racing_only_the_first_locks_and_is_heard_of(group, heard, committed):
    # Both read the group before either locked it, as two first deliveries arriving together.
    first, second = SegmentGroup.objects.get(pk=group.pk), SegmentGroup.objects.get(pk=group.pk)
    with committed():
        segmentation.lock_segment_group(first)
        segmentation.lock_segment_group(second)
    assert second.locked_at == first.locked_at is not None
    assert [sent["group"].pk for sent in heard.of("segment_group_locked")] == [group.pk]


def test_an_unlocked_group_can_be_renamed_reidentified_and_deleted(group):
    segmentation.update_segment_group(group, name="Weekly newsletter", identifier="weekly")
    group.refresh_from_db()
    assert (group.identifier, group.name) == ("weekly", "Weekly newsletter")
    segmentation.delete_segment_group(group)
    assert not SegmentGroup.objects.exists()


def test_locking_happens_once_and_keeps_the_first_time(locked_group):
    first = locked_group.locked_at
    assert first is not None
    segmentation.lock_segment_group(SegmentGroup.objects.get(pk=locked_group.pk))
    locked_group.refresh_from_db()
    assert locked_group.locked_at == first


@pytest.mark.parametrize(
    "change",
    [{"name": "Renamed"}, {"identifier": "renamed"}, {"name": "x", "identifier": "y"}],
)
def test_a_locked_group_refuses_every_change_and_nothing_changes(locked_group, change):
    with pytest.raises(SegmentGroupLocked, match="managed by the CDP alone"):
        segmentation.update_segment_group(locked_group, **change)
    stored = SegmentGroup.objects.get(pk=locked_group.pk)
    assert (stored.identifier, stored.name) == ("cdp_audiences", "CDP audiences")


def test_a_stale_copy_cannot_slip_a_change_past_the_lock(group):
    stale = SegmentGroup.objects.get(pk=group.pk)
    segmentation.lock_segment_group(group)
    with pytest.raises(SegmentGroupLocked):
        segmentation.update_segment_group(stale, name="Renamed")


def test_a_locked_group_cannot_be_deleted(locked_group):
    with pytest.raises(SegmentGroupLocked):
        segmentation.delete_segment_group(locked_group)
    assert SegmentGroup.objects.filter(pk=locked_group.pk).exists()
    assert Segment.objects.filter(group=locked_group).count() == 1


def test_segments_of_a_locked_group_are_managed_by_the_cdp_alone(locked_group, alice):
    segment = segmentation.load_segment(locked_group, "5d822e81")
    with pytest.raises(SegmentGroupLocked):
        segmentation.create_segment(locked_group, "new")
    with pytest.raises(SegmentGroupLocked):
        segmentation.update_segment(segment, name="Dog owners")
    with pytest.raises(SegmentGroupLocked):
        segmentation.delete_segment(segment)
    with pytest.raises(SegmentGroupLocked):
        segmentation.assign_users_to_segment(segment, [alice])
    with pytest.raises(SegmentGroupLocked):
        segmentation.unassign_user_from_segment(segment, alice)
    segment.refresh_from_db()
    assert segment.name == "Cat owners"
    assert not SegmentMembership.objects.exists()


def test_membership_of_an_unlocked_group(group, alice):
    bob = User.objects.create_user("bob")
    vip = segmentation.create_segment(group, "vip", "VIP")
    segmentation.assign_users_to_segment(vip, [alice, bob])
    segmentation.assign_users_to_segment(vip, [alice])  # already in: unchanged
    assert SegmentMembership.objects.filter(segment=vip).count() == 2
    assert segmentation.is_user_in_segment(alice, vip)
    assert list(segmentation.user_segments(alice)) == [vip]
    segmentation.unassign_user_from_segment(vip, alice)
    assert not segmentation.is_user_in_segment(alice, vip)
    assert list(segmentation.user_segments(alice)) == []
    assert list(segmentation.segments_of_group(group)) == [vip]


def test_an_anonymous_user_is_in_no_segment(group):
    vip = segmentation.create_segment(group, "vip")
    assert not segmentation.is_user_in_segment(AnonymousUser(), vip)
    assert list(segmentation.user_segments(AnonymousUser())) == []


def test_segment_identifiers_are_unique_within_a_group(group):
    segmentation.create_segment(group, "vip")
    with pytest.raises(Exception, match="already exists"):
        segmentation.create_segment(group, "vip")


def test_segment_groups_count_their_segments(group, locked_group):
    counts = {g.identifier: g.segment_count for g in segmentation.segment_groups()}
    assert counts == {"newsletter": 0, "cdp_audiences": 1}


def test_a_segment_cannot_be_moved_into_a_locked_group(group, locked_group):
    vip = segmentation.create_segment(group, "vip")
    with pytest.raises(SegmentGroupLocked):
        segmentation.update_segment(vip, group=locked_group)
    assert Segment.objects.get(pk=vip.pk).group_id == group.pk


def test_a_group_locked_after_its_segment_was_loaded_still_refuses(group, alice):
    vip = segmentation.create_segment(group, "vip")
    stale = Segment.objects.select_related("group").get(pk=vip.pk)  # its group: unlocked
    segmentation.lock_segment_group(group)  # meanwhile, the CDP connects
    with pytest.raises(SegmentGroupLocked):
        segmentation.update_segment(stale, name="Renamed")
    with pytest.raises(SegmentGroupLocked):
        segmentation.assign_users_to_segment(stale, [alice])
    with pytest.raises(SegmentGroupLocked):
        segmentation.delete_segment(stale)
    assert Segment.objects.get(pk=vip.pk).name == ""
    assert not SegmentMembership.objects.exists()


# -- the lock in the model layer: every ORM path refuses, only the sync engine passes ------------


@pytest.fixture
def cats(locked_group, alice):
    """The locked group's segment, with alice in it, as the CDP wrote it."""
    segment = Segment.objects.get(group=locked_group)
    with transaction.atomic(), cdp_writes():
        segment.members.add(alice)
    return segment


def test_a_locked_group_refuses_save_and_delete_of_the_model(locked_group):
    locked_group.name = "Renamed"
    with pytest.raises(SegmentGroupLocked, match="managed by the CDP alone"):
        locked_group.save()
    with pytest.raises(SegmentGroupLocked):
        SegmentGroup.objects.get(pk=locked_group.pk).delete()
    stored = SegmentGroup.objects.get(pk=locked_group.pk)
    assert (stored.name, stored.is_locked) == ("CDP audiences", True)


@pytest.mark.parametrize(
    "change", [{"locked_at": None}, {"name": "Renamed"}, {"identifier": "renamed"}]
)
def test_a_locked_group_refuses_bulk_updates_a_silent_unlock_included(locked_group, change):
    with pytest.raises(SegmentGroupLocked):
        SegmentGroup.objects.filter(pk=locked_group.pk).update(**change)
    with pytest.raises(SegmentGroupLocked):
        SegmentGroup.objects.all().update(**change)  # a locked one among others
    stored = SegmentGroup.objects.get(pk=locked_group.pk)
    assert (stored.identifier, stored.name) == ("cdp_audiences", "CDP audiences")
    assert stored.locked_at == locked_group.locked_at


@pytest.mark.parametrize("update_fields", [["locked_at", "name"], ["name"], ["locked_at"]], ids=str)
def test_a_locked_group_refuses_an_upsert_that_would_change_it(locked_group, update_fields):
    """bulk_create(update_conflicts=True) updates the stored group it collides with."""
    with pytest.raises(SegmentGroupLocked):
        SegmentGroup.objects.bulk_create(
            [SegmentGroup(identifier="cdp_audiences", name="Renamed", locked_at=None)],
            update_conflicts=True,
            unique_fields=["identifier"],
            update_fields=update_fields,
        )
    stored = SegmentGroup.objects.get(pk=locked_group.pk)
    assert (stored.name, stored.locked_at) == ("CDP audiences", locked_group.locked_at)


def test_an_upsert_of_unlocked_or_new_groups_is_allowed(locked_group, group):
    SegmentGroup.objects.bulk_create(
        [SegmentGroup(identifier="newsletter", name="News"), SegmentGroup(identifier="new")],
        update_conflicts=True,
        unique_fields=["identifier"],
        update_fields=["name"],
    )
    SegmentGroup.objects.bulk_create(  # an insert leaves the locked group as it is
        [SegmentGroup(identifier="cdp_audiences", name="Renamed")], ignore_conflicts=True
    )
    names = dict(SegmentGroup.objects.values_list("identifier", "name"))
    assert names == {"cdp_audiences": "CDP audiences", "newsletter": "News", "new": ""}


def test_django_s_base_managers_are_guarded_too(locked_group, cats):
    """``_base_manager`` is what Django uses for related objects; it refuses like ``objects``."""
    for change in (
        lambda: SegmentGroup._base_manager.filter(pk=locked_group.pk).update(name="Renamed"),
        lambda: SegmentGroup._base_manager.filter(pk=locked_group.pk).delete(),
        lambda: Segment._base_manager.filter(group=locked_group).update(name="Dog owners"),
        lambda: Segment._base_manager.filter(group=locked_group).delete(),
        lambda: SegmentMembership.objects.get().segment.group.save(),  # related objects
    ):
        with pytest.raises(SegmentGroupLocked), transaction.atomic():
            change()
    assert SegmentGroup.objects.get().name == "CDP audiences"
    assert Segment.objects.get().name == "Cat owners"


def test_an_upsert_cannot_move_a_segment_or_member_out_of_a_locked_group(
    locked_group, cats, group, alice
):
    vip = segmentation.create_segment(group, "vip")
    membership = SegmentMembership.objects.get()
    for upsert in (
        lambda: Segment.objects.bulk_create(
            [Segment(pk=cats.pk, group=group, identifier="moved")],
            update_conflicts=True,
            unique_fields=["pk"],
            update_fields=["group", "identifier"],
        ),
        lambda: SegmentMembership.objects.bulk_create(
            [SegmentMembership(pk=membership.pk, segment=vip, user=alice)],
            update_conflicts=True,
            unique_fields=["pk"],
            update_fields=["segment"],
        ),
    ):
        with pytest.raises(SegmentGroupLocked), transaction.atomic():
            upsert()
    assert list(Segment.objects.filter(group=locked_group)) == [cats]
    assert [member.username for member in cats.members.all()] == ["alice"]


def test_a_locked_group_cannot_be_emptied_and_then_deleted(locked_group, cats, alice):
    for delete in (
        lambda: Segment.objects.filter(group=locked_group).delete(),
        lambda: locked_group.segments.all().delete(),
        lambda: Segment.objects.get(pk=cats.pk).delete(),
        lambda: SegmentGroup.objects.filter(pk=locked_group.pk).delete(),
    ):
        with pytest.raises(SegmentGroupLocked):
            delete()
    assert list(segmentation.segments_of_group(locked_group)) == [cats]
    assert segmentation.is_user_in_segment(alice, cats)


def test_segments_of_a_locked_group_refuse_every_orm_change(locked_group, cats, group):
    for change in (
        lambda: Segment.objects.create(group=locked_group, identifier="new"),
        lambda: locked_group.segments.create(identifier="new"),
        lambda: Segment.objects.bulk_create([Segment(group=locked_group, identifier="new")]),
        lambda: Segment.objects.filter(pk=cats.pk).update(name="Dog owners"),
        lambda: Segment.objects.bulk_update([Segment(pk=cats.pk, name="Dogs")], ["name"]),
        lambda: Segment.objects.filter(pk=cats.pk).update(group=group),  # moved out
    ):
        with pytest.raises(SegmentGroupLocked), transaction.atomic():
            change()
    vip = segmentation.create_segment(group, "vip")
    with pytest.raises(SegmentGroupLocked):
        Segment.objects.filter(pk=vip.pk).update(group=locked_group)  # moved in
    assert list(Segment.objects.filter(group=locked_group)) == [cats]
    assert Segment.objects.get(pk=cats.pk).name == "Cat owners"


def test_members_of_a_locked_segment_are_changed_by_the_cdp_alone(locked_group, cats, alice):
    bob = User.objects.create_user("bob")
    for change in (
        lambda: cats.members.add(bob),
        lambda: cats.members.remove(alice),
        lambda: cats.members.clear(),
        lambda: cats.members.set([bob]),
        lambda: bob.cdp_segments.add(cats),
        lambda: SegmentMembership.objects.create(segment=cats, user=bob),
        lambda: SegmentMembership.objects.filter(segment=cats).delete(),
        lambda: SegmentMembership.objects.filter(user=alice).update(user=bob),
        lambda: SegmentMembership.objects.get(segment=cats).delete(),
    ):
        # Like a database error, a refusal inside Django's own transaction (add(), set() ...)
        # ends the caller's: a savepoint lets the caller go on.
        with pytest.raises(SegmentGroupLocked), transaction.atomic():
            change()
    assert [user.username for user in cats.members.all()] == ["alice"]


def test_the_segmentation_api_hands_out_read_only_results(locked_group, cats, group):
    vip = segmentation.create_segment(group, "vip")
    for handed_out in (group, locked_group):
        with pytest.raises(TypeError, match="segments_of_group\\(\\) returns read-only results"):
            segmentation.segments_of_group(handed_out).filter(identifier__gt="").delete()
    with pytest.raises(TypeError, match="segment_groups\\(\\) returns read-only results"):
        segmentation.segment_groups().update(name="Renamed")
    alice = cats.members.get()
    with pytest.raises(TypeError, match="user_segments\\(\\) returns read-only results"):
        segmentation.user_segments(alice).update(name="Renamed")
    assert list(Segment.objects.order_by("identifier")) == [cats, vip]
    segmentation.delete_segment(vip)  # the API's own functions still write unlocked groups
    assert not Segment.objects.filter(group=group).exists()


def test_an_unlocked_group_allows_every_orm_change(group, alice):
    vip = Segment.objects.create(group=group, identifier="vip")
    vip.members.add(alice)
    Segment.objects.filter(group=group).update(name="VIP")
    SegmentGroup.objects.filter(pk=group.pk).update(name="News")
    assert (Segment.objects.get().name, SegmentGroup.objects.get().name) == ("VIP", "News")
    vip.members.clear()
    group.segments.all().delete()
    group.delete()
    assert not SegmentGroup.objects.exists()


def test_the_cdp_writes_segments_of_a_locked_group(locked_group, cats):
    with transaction.atomic(), cdp_writes():
        Segment.objects.filter(pk=cats.pk).update(name="Cat lovers")
        Segment.objects.create(group=locked_group, identifier="dogs")
    assert sorted(segmentation.segments_of_group(locked_group).values_list("name", flat=True)) == [
        "",
        "Cat lovers",
    ]
    with pytest.raises(SegmentGroupLocked):  # and only inside cdp_writes()
        Segment.objects.filter(pk=cats.pk).update(name="Cats")


def test_deleting_a_person_always_works_and_removes_their_memberships(cats, alice):
    alice.delete()
    assert not User.objects.filter(username="alice").exists()
    assert not SegmentMembership.objects.exists()
    assert Segment.objects.filter(pk=cats.pk).exists()


# -- the lock in the database (PostgreSQL): raw SQL ---------------------------------------------

on_postgresql = needs_postgresql("the database guard is a PostgreSQL trigger")


def raw(*statements, params=()):
    """Run SQL statements in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)


@on_postgresql
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cdp_bridge_segmentgroup SET locked_at = NULL",
        "UPDATE cdp_bridge_segmentgroup SET name = 'Renamed'",
        "DELETE FROM cdp_bridge_segmentgroup",
        "UPDATE cdp_bridge_segment SET name = 'Dog owners'",
        "DELETE FROM cdp_bridge_segment",
        "INSERT INTO cdp_bridge_segment (group_id, identifier, name, description, tags, "
        "created_at, updated_at) SELECT id, 'new', '', '', '[]', now(), now() "
        "FROM cdp_bridge_segmentgroup",
    ],
)
def test_raw_sql_cannot_change_a_locked_group_or_its_segments(locked_group, cats, sql):
    with pytest.raises(ProgrammingError, match="managed by the CDP alone"):
        raw(sql)
    assert SegmentGroup.objects.get().locked_at == locked_group.locked_at
    assert [(s.identifier, s.name) for s in Segment.objects.all()] == [("5d822e81", "Cat owners")]


@on_postgresql
@pytest.mark.django_db(transaction=True)  # each statement its own transaction, as in production
def test_raw_sql_passes_the_guard_only_when_it_says_it_writes_for_the_cdp(locked_group, cats):
    raw("SET LOCAL cdp_bridge.cdp_writes = on", "UPDATE cdp_bridge_segment SET name = 'Cats'")
    assert Segment.objects.get().name == "Cats"
    with pytest.raises(ProgrammingError):  # the pass ended with its transaction
        raw("UPDATE cdp_bridge_segment SET name = 'Dogs'")


@on_postgresql
def test_a_queryset_built_by_hand_is_refused_by_the_database(locked_group, cats):
    """``QuerySet(SegmentGroup)`` is not the models' queryset: like raw SQL, only the
    database's guard sees what it writes."""
    for change in (
        lambda: QuerySet(SegmentGroup).filter(pk=locked_group.pk).update(name="Renamed"),
        lambda: QuerySet(Segment).filter(pk=cats.pk).update(name="Dog owners"),
    ):
        with (
            pytest.raises(ProgrammingError, match="managed by the CDP alone"),
            transaction.atomic(),
        ):
            change()
    assert (SegmentGroup.objects.get().name, Segment.objects.get().name) == (
        "CDP audiences",
        "Cat owners",
    )


@on_postgresql
@pytest.mark.django_db(transaction=True)  # the foreign keys are checked at COMMIT
def test_the_documented_sql_deletes_a_locked_group_with_all_it_holds(locked_group, cats):
    page = (Path(__file__).resolve().parent.parent / "docs" / "segmentation.md").read_text()
    [sql] = re.findall(r"```sql\n(.*?)```", page, re.DOTALL)
    SnapshotPart.objects.create(
        group=locked_group, audience_identifier="a", snapshot_id="s", part=1, parts=2, audience={}
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("connected_by_mistake", locked_group.identifier))
    assert not SegmentGroup.objects.exists()
    assert not Segment.objects.exists()
    assert not SegmentMembership.objects.exists()
    assert not SnapshotPart.objects.exists()


@on_postgresql
def test_raw_sql_can_change_memberships(locked_group, cats, alice):
    raw("DELETE FROM cdp_bridge_segmentmembership WHERE user_id = %s", params=[alice.pk])
    assert not SegmentMembership.objects.exists()
