"""The segmentation API, and the lock that protects a group an activation has connected to."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from cdp_bridge import segmentation
from cdp_bridge.exceptions import CdpBridgeError, SegmentGroupLocked
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership

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


def test_the_lock_error_is_a_cdp_bridge_error_and_a_permission_denied():
    assert issubclass(SegmentGroupLocked, CdpBridgeError)
    assert issubclass(SegmentGroupLocked, PermissionDenied)


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
