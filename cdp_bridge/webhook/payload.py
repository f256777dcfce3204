"""A validated delivery, as typed frozen objects: what the sync engine works from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.utils.dateparse import parse_datetime

from cdp_bridge.conf.schema import frozen_mapping

PersonIdentifier = str | int
# The audience metadata stored on its segment: payload key -> Segment field.
METADATA_FIELDS = {
    "name": "name",
    "description": "description",
    "tags": "tags",
    "profile_count": "profile_count",
    "updated_at": "cdp_updated_at",
}


@dataclass(frozen=True)
class SnapshotRef:
    """Which part of a multi-request snapshot an audience is."""

    id: str
    part: int
    parts: int


@dataclass(frozen=True)
class Audience:
    """One audience of a delivery: the segment it becomes and how its membership changes."""

    id: str
    sync: Literal["full", "delta"]
    members: tuple[PersonIdentifier, ...] = ()
    added: tuple[PersonIdentifier, ...] = ()
    removed: tuple[PersonIdentifier, ...] = ()
    sequence: int | None = None
    snapshot: SnapshotRef | None = None
    # Only the metadata keys the CDP sent: a key left out leaves the segment's value alone.
    metadata: Mapping[str, Any] = field(default_factory=frozen_mapping)

    @property
    def member_count(self) -> int:
        return len(self.members) + len(self.added) + len(self.removed)

    def segment_fields(self) -> dict[str, Any]:
        """The Segment fields this audience's metadata sets."""
        return {METADATA_FIELDS[key]: value for key, value in self.metadata.items()}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, to keep a snapshot part until the others arrive."""
        metadata = dict(self.metadata)
        if isinstance(metadata.get("updated_at"), datetime):
            metadata["updated_at"] = metadata["updated_at"].isoformat()
        return {
            "id": self.id,
            "members": list(self.members),
            "sequence": self.sequence,
            "metadata": metadata,
        }

    @classmethod
    def full_from_json(
        cls, stored: Mapping[str, Any], members: tuple[PersonIdentifier, ...]
    ) -> Audience:
        """A full audience from ``to_json()`` output, with the members of every part."""
        metadata = dict(stored["metadata"])
        if isinstance(metadata.get("updated_at"), str):
            metadata["updated_at"] = parse_datetime(metadata["updated_at"])
        return cls(
            id=stored["id"],
            sync="full",
            members=members,
            sequence=stored["sequence"],
            metadata=frozen_mapping(metadata),
        )


@dataclass(frozen=True)
class Delivery:
    """A whole delivery: audiences to write and audiences to remove, in one segment group."""

    segment_group_identifier: str
    audiences: tuple[Audience, ...] = ()
    removed_audiences: tuple[str, ...] = ()

    @property
    def member_count(self) -> int:
        """Person identifiers in the delivery: what ``bulk_async_threshold`` is compared with."""
        return sum(audience.member_count for audience in self.audiences)
