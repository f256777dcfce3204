"""The sync engine: full, delta, stale, snapshots in parts, removals, atomicity, the lock."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from cdp_bridge import conf
from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import Segment, SegmentMembership, SnapshotPart
from cdp_bridge.webhook import sync
from cdp_bridge.webhook.serializers import validate_delivery
from cdp_bridge.webhook.snapshots import drop_expired_parts
from cdp_bridge.webhook.sync import apply_delivery

from .conftest import CLIENT_ID, audience, delivery, ids, members

pytestmark = pytest.mark.django_db


@pytest.fixture
def apply(group):
    """Apply a delivery (as a dict) as the configured activation; returns the JSON result."""

    def run(body):
        scope, _ = conf.find_activation(CLIENT_ID)
        person = PersonIdentifier.for_scope(scope)
        return apply_delivery(validate_delivery(body), group, person).as_json()

    return run


def statuses(result):
    return [item["status"] for item in result["audiences"]]


def test_full_replaces_the_membership_and_delta_changes_it(apply, users):
    apply(delivery(audience(members=ids(users[:4]))))
    apply(delivery(audience(members=ids(users[2:6]))))
    assert members("5d822e81") == {"user2", "user3", "user4", "user5"}
    result = apply(delivery(audience(sync="delta", added=ids(users[8:9]), removed=ids(users[2:3]))))
    assert result["audiences"][0] == {
        "id": "5d822e81",
        "segment": Segment.objects.get(identifier="5d822e81").pk,  # where the members are
        "status": "applied",
        "added": 1,
        "removed": 1,
        "unknown_members": 0,
    }
    assert members("5d822e81") == {"user3", "user4", "user5", "user8"}


def test_a_delta_for_a_new_audience_creates_its_segment(apply, users):
    apply(delivery(audience("77aa01", sync="delta", added=ids(users[:2]), name="Lapsed")))
    assert Segment.objects.get(identifier="77aa01").name == "Lapsed"
    assert members("77aa01") == {"user0", "user1"}


def test_unknown_identifiers_are_skipped_and_counted(apply, users):
    result = apply(delivery(audience(members=[*ids(users[:2]), "999999", "abc", 999999])))
    assert result["audiences"][0]["unknown_members"] == 2  # "999999" and 999999 are one person
    assert members("5d822e81") == {"user0", "user1"}


def test_members_are_matched_by_the_person_identifier_field(apply, users, configure):
    configure({"person_identifier_field": "username"})
    apply(delivery(audience(members=["user3", "user4", "nobody"])))
    assert members("5d822e81") == {"user3", "user4"}


@pytest.mark.parametrize("late_sequence", [17, 16])
def test_an_audience_not_newer_than_the_segment_is_stale_and_changes_nothing(
    apply, users, late_sequence
):
    apply(delivery(audience(sequence=17, name="Cat owners", members=ids(users[:3]))))
    result = apply(
        delivery(audience(sequence=late_sequence, name="Old name", members=ids(users[5:])))
    )
    assert statuses(result) == ["stale"]
    segment = Segment.objects.get(identifier="5d822e81")
    assert (segment.name, segment.sequence) == ("Cat owners", 17)
    assert members("5d822e81") == {"user0", "user1", "user2"}


def test_a_newer_sequence_is_applied_and_remembered(apply, users):
    apply(delivery(audience(sequence=17, members=ids(users[:3]))))
    assert statuses(apply(delivery(audience(sequence=18, members=ids(users[:1]))))) == ["applied"]
    assert Segment.objects.get().sequence == 18
    assert statuses(apply(delivery(audience(members=ids(users[:2]))))) == ["applied"]
    assert Segment.objects.get().sequence == 18  # no sequence: applied, the last one kept


def test_only_the_metadata_sent_is_changed(apply):
    apply(delivery(audience(description="Bought cat food", tags=["pets"], profile_count=5)))
    apply(delivery(audience(sync="delta", added=[], name="Renamed", profile_count=None)))
    segment = Segment.objects.get()
    assert (segment.name, segment.description, segment.tags, segment.profile_count) == (
        "Renamed",
        "Bought cat food",
        ["pets"],
        None,
    )


def test_removed_audiences_lose_their_segment_and_memberships(apply, users):
    apply(delivery(audience("0be7c3", members=ids(users)), audience("keep", members=ids(users))))
    result = apply(delivery(removed_audiences=["0be7c3", "never-existed"]))
    assert result["removed_audiences"] == [
        {"id": "0be7c3", "status": "removed"},
        {"id": "never-existed", "status": "not_found"},
    ]
    assert list(Segment.objects.values_list("identifier", flat=True)) == ["keep"]
    assert SegmentMembership.objects.count() == 10


def test_a_delivery_is_applied_all_or_nothing(apply, users, monkeypatch):
    apply(delivery(audience("a", members=ids(users[:2]))))
    real_writer = sync.membership_writer

    def writer_failing_on_the_second_audience(person):
        writer = real_writer(person)
        replace, calls = writer.replace, []

        def fail_the_second_time(segment_id, identifiers):
            calls.append(segment_id)
            if len(calls) == 2:
                raise RuntimeError("injected failure")
            return replace(segment_id, identifiers)

        writer.replace = fail_the_second_time
        return writer

    monkeypatch.setattr(sync, "membership_writer", writer_failing_on_the_second_audience)
    with pytest.raises(RuntimeError, match="injected failure"):
        apply(
            delivery(
                audience("a", name="Changed", members=ids(users[5:])),
                audience("b", members=ids(users)),
                removed_audiences=["gone"],
            )
        )
    assert members("a") == {"user0", "user1"}
    assert Segment.objects.get(identifier="a").name == "Cat owners"
    assert not Segment.objects.filter(identifier="b").exists()


def test_segments_of_the_locked_group_are_written_by_the_webhook(apply, group, users):
    from cdp_bridge.segmentation import lock_segment_group

    lock_segment_group(group)
    apply(delivery(audience(members=ids(users[:1]))))
    assert members("5d822e81") == {"user0"}


# -- snapshots in parts ----------------------------------------------------------------------------


def part(number, parts, member_ids, snapshot_id="c1a5e0f2", **fields):
    return audience(
        "90ff12",
        members=member_ids,
        snapshot={"id": snapshot_id, "part": number, "parts": parts},
        **fields,
    )


def test_a_snapshot_changes_nothing_until_every_part_is_in_then_applies_at_once(apply, users):
    apply(delivery(audience("90ff12", members=ids(users[9:]))))
    assert statuses(apply(delivery(part(3, 3, ids(users[6:8]), name="Everyone")))) == ["pending"]
    assert statuses(apply(delivery(part(1, 3, ids(users[:3]))))) == ["pending"]
    assert members("90ff12") == {"user9"}
    result = apply(delivery(part(2, 3, ids(users[3:6]))))
    assert statuses(result) == ["applied"]
    assert result["audiences"][0]["added"] == 8
    assert result["audiences"][0]["removed"] == 1
    assert members("90ff12") == {f"user{index}" for index in range(8)}
    assert Segment.objects.get(identifier="90ff12").name == "Everyone"  # the last part's
    assert not SnapshotPart.objects.exists()


def test_a_part_sent_twice_is_kept_once(apply, users):
    apply(delivery(part(1, 2, ids(users[:1]))))
    apply(delivery(part(1, 2, ids(users[1:2]))))
    apply(delivery(part(2, 2, [])))
    assert members("90ff12") == {"user1"}


def test_parts_that_disagree_on_their_number_are_refused(apply, users):
    apply(delivery(part(1, 3, ids(users[:1]))))
    with pytest.raises(InvalidPayload) as refused:
        apply(delivery(part(2, 2, ids(users[1:2]))))
    assert refused.value.details == [
        {
            "path": "/audiences/0/snapshot/parts",
            "message": "Snapshot 'c1a5e0f2' was announced with 3 parts, not 2.",
        }
    ]
    assert SnapshotPart.objects.count() == 1


def test_the_snapshot_takes_the_highest_sequence_of_its_parts_and_can_be_stale(apply, users):
    apply(delivery(part(1, 2, ids(users[:1]), sequence=5)))
    apply(delivery(part(2, 2, ids(users[1:2]), sequence=6)))
    assert Segment.objects.get().sequence == 6
    assert statuses(apply(delivery(part(1, 2, [], snapshot_id="older", sequence=6)))) == ["stale"]
    assert not SnapshotPart.objects.exists()


def test_parts_left_incomplete_for_a_day_are_dropped(apply, users):
    apply(delivery(part(1, 2, ids(users[:1]))))
    SnapshotPart.objects.update(
        received_at=SnapshotPart.objects.get().received_at - timedelta(hours=25)
    )
    assert drop_expired_parts() == 1
    assert statuses(apply(delivery(part(2, 2, ids(users[1:2]))))) == ["pending"]


def test_removing_an_audience_forgets_its_pending_parts(apply, users):
    apply(delivery(part(1, 2, ids(users[:1]))))
    apply(delivery(removed_audiences=["90ff12"]))
    assert not SnapshotPart.objects.exists()


def test_user_deleted_later_leaves_the_segment(apply, users):
    apply(delivery(audience(members=ids(users[:2]))))
    User.objects.filter(username="user0").delete()
    assert members("5d822e81") == {"user1"}
