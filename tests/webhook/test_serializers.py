"""Validating a delivery: typed results, strict strings, and every problem with its path."""

from datetime import UTC, datetime

import pytest

from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.webhook.payload import Audience, Delivery, SnapshotRef
from cdp_bridge.webhook.serializers import MAX_MEMBER_ERRORS, validate_delivery


def problems(document):
    with pytest.raises(InvalidPayload) as refused:
        validate_delivery(document)
    return refused.value


def test_a_valid_delivery_becomes_typed_frozen_objects():
    delivery = validate_delivery(
        {
            "segment_group_identifier": "g",
            "audiences": [
                {
                    "id": "a",
                    "sync": "full",
                    "members": ["10", 11],
                    "name": "Cat owners",
                    "updated_at": "2026-11-20T10:00:00Z",
                    "snapshot": {"id": "s", "part": 2, "parts": 3},
                    "unknown_key": "ignored",
                },
                {"id": "b", "sync": "delta", "added": [1], "removed": ["2"], "sequence": 4},
            ],
            "removed_audiences": ["c"],
        }
    )
    assert delivery == Delivery(
        segment_group_identifier="g",
        audiences=(
            Audience(
                id="a",
                sync="full",
                members=("10", 11),
                snapshot=SnapshotRef("s", 2, 3),
                metadata={
                    "name": "Cat owners",
                    "updated_at": datetime(2026, 11, 20, 10, tzinfo=UTC),
                },
            ),
            Audience(id="b", sync="delta", added=(1,), removed=("2",), sequence=4),
        ),
        removed_audiences=("c",),
    )
    assert delivery.member_count == 4
    assert dict(delivery.audiences[1].metadata) == {}  # what is not sent is left alone


def test_a_number_or_a_boolean_is_not_a_string():
    refused = problems(
        {
            "segment_group_identifier": True,
            "audiences": [{"id": 1.0, "sync": "full", "members": [], "name": 5}],
        }
    )
    assert refused.details == [
        {"path": "/segment_group_identifier", "message": "Expected a string, not a boolean."},
        {"path": "/audiences/0/id", "message": "Expected a string, not a decimal number."},
        {"path": "/audiences/0/name", "message": "Expected a string, not an integer."},
    ]
    assert refused.message == "The delivery has 3 problems."


def test_an_object_where_a_list_belongs_is_reported_at_its_key():
    refused = problems({"segment_group_identifier": "g", "audiences": {"a": 1}})
    assert refused.details == [
        {"path": "/audiences", "message": 'Expected a list of items but got type "dict".'}
    ]


def test_a_long_list_of_bad_members_is_summed_up():
    members = [None] * (MAX_MEMBER_ERRORS + 5)
    refused = problems(
        {
            "segment_group_identifier": "g",
            "audiences": [{"id": "a", "sync": "full", "members": members}],
        }
    )
    assert len(refused.details) == MAX_MEMBER_ERRORS + 1
    assert refused.details[-1] == {
        "path": "/audiences/0/members",
        "message": "5 more bad person identifiers.",
    }


def test_a_person_identifier_longer_than_255_characters_is_refused():
    refused = problems(
        {
            "segment_group_identifier": "g",
            "audiences": [{"id": "a", "sync": "delta", "added": ["x" * 256]}],
        }
    )
    assert refused.details == [
        {
            "path": "/audiences/0/added/0",
            "message": "A person identifier is at most 255 characters.",
        }
    ]


@pytest.mark.parametrize(
    ("snapshot", "path", "message"),
    [
        ({"id": "s", "part": 0, "parts": 2}, "part", "greater than or equal to 1"),
        ({"id": "s", "part": 1, "parts": 10_001}, "parts", "less than or equal to 10000"),
        ({"id": "", "part": 1, "parts": 1}, "id", "may not be blank"),
    ],
)
def test_snapshot_parts_are_bounded(snapshot, path, message):
    refused = problems(
        {
            "segment_group_identifier": "g",
            "audiences": [{"id": "a", "sync": "full", "members": [], "snapshot": snapshot}],
        }
    )
    [detail] = refused.details
    assert detail["path"] == f"/audiences/0/snapshot/{path}"
    assert message in detail["message"]


def test_sequences_and_profile_counts_fit_a_bigint():
    refused = problems(
        {
            "segment_group_identifier": "g",
            "audiences": [
                {"id": "a", "sync": "full", "members": [], "sequence": 2**63, "profile_count": -1}
            ],
        }
    )
    assert {detail["path"] for detail in refused.details} == {
        "/audiences/0/sequence",
        "/audiences/0/profile_count",
    }
