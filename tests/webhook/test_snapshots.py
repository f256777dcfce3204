"""Snapshots in parts: kept until the last part is in, assembled into one full audience."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.models import SnapshotPart
from cdp_bridge.webhook.payload import Audience, SnapshotRef
from cdp_bridge.webhook.snapshots import drop_expired_parts, forget_parts, receive_part

pytestmark = pytest.mark.django_db


def part(number, parts, members, *, sequence=None, snapshot="s1", audience="a", **metadata):
    return Audience(
        id=audience,
        sync="full",
        members=tuple(members),
        sequence=sequence,
        snapshot=SnapshotRef(snapshot, number, parts),
        metadata=metadata,
    )


def test_nothing_is_complete_until_the_last_part_arrives_in_any_order(group):
    first = receive_part(group, part(3, 3, ["7"]), "/audiences/0")
    second = receive_part(group, part(1, 3, ["1", "2"]), "/audiences/0")
    assert (first.received, first.parts, first.complete) == (1, 3, None)
    assert (second.received, second.complete) == (2, None)
    last = receive_part(group, part(2, 3, ["2", 3]), "/audiences/0")
    assert last.received == 3
    assert last.complete.members == ("1", "2", 3, "7")  # in part order, each member once
    assert last.complete.snapshot is None
    assert not SnapshotPart.objects.exists()


def test_later_parts_metadata_wins_and_the_highest_sequence_is_kept(group):
    receive_part(group, part(2, 2, [], sequence=9, name="Later", tags=["b"]), "")
    whole = receive_part(
        group, part(1, 2, [], sequence=4, name="Earlier", description="kept"), ""
    ).complete
    assert dict(whole.metadata) == {"name": "Later", "tags": ["b"], "description": "kept"}
    assert whole.sequence == 9


def test_parts_of_other_snapshots_and_audiences_are_kept_apart(group):
    receive_part(group, part(1, 2, ["1"]), "")
    receive_part(group, part(1, 2, ["2"], snapshot="s2"), "")
    receive_part(group, part(1, 2, ["3"], audience="b"), "")
    whole = receive_part(group, part(2, 2, ["4"]), "").complete
    assert whole.members == ("1", "4")
    assert SnapshotPart.objects.count() == 2


def test_a_part_that_disagrees_on_the_number_of_parts_is_refused_with_its_path(group):
    receive_part(group, part(1, 3, ["1"]), "/audiences/0")
    with pytest.raises(InvalidPayload) as refused:
        receive_part(group, part(2, 2, ["2"]), "/audiences/4")
    assert refused.value.details == [
        {
            "path": "/audiences/4/snapshot/parts",
            "message": "Snapshot 's1' was announced with 3 parts, not 2.",
        }
    ]


def test_parts_older_than_a_day_are_dropped(group):
    receive_part(group, part(1, 2, ["1"]), "")
    receive_part(group, part(1, 2, ["2"], snapshot="fresh"), "")
    SnapshotPart.objects.filter(snapshot_id="s1").update(
        received_at=timezone.now() - timedelta(hours=24, seconds=1)
    )
    assert drop_expired_parts() == 1
    assert list(SnapshotPart.objects.values_list("snapshot_id", flat=True)) == ["fresh"]


def test_the_parts_of_removed_audiences_are_forgotten(group):
    receive_part(group, part(1, 2, ["1"]), "")
    receive_part(group, part(1, 2, ["2"], audience="b"), "")
    forget_parts(group, ["a"])
    assert list(SnapshotPart.objects.values_list("audience_identifier", flat=True)) == ["b"]
