"""Snapshots in parts: a full membership too large for one request, sent as ``parts`` requests.

Parts may arrive in any order and nothing changes until the last one is in; then the whole
snapshot is applied at once, as one full audience. Parts left incomplete for 24 hours are
dropped. The caller serialises deliveries with parts (a row lock on the segment group), so
two parts arriving together cannot both miss each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy

from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.models import SegmentGroup, SnapshotPart
from cdp_bridge.translation import interpolate_lazy
from cdp_bridge.webhook.payload import Audience

EXPIRY = timedelta(hours=24)


@dataclass(frozen=True)
class PartReceived:
    """A part was stored: the whole snapshot when it is now complete, else how far it got."""

    received: int
    parts: int
    complete: Audience | None = None


def receive_part(group: SegmentGroup, audience: Audience, path: str) -> PartReceived:
    """Keep one part; when every part is in, return the assembled snapshot and forget the parts.

    ``path`` is the audience's JSON pointer, for the InvalidPayload raised when parts disagree
    on ``parts``.
    """
    snapshot = audience.snapshot
    assert snapshot is not None
    drop_expired_parts()
    stored = SnapshotPart.objects.filter(
        group=group, audience_identifier=audience.id, snapshot_id=snapshot.id
    )
    announced = stored.exclude(parts=snapshot.parts).values_list("parts", flat=True).first()
    if announced is not None:
        raise InvalidPayload(
            gettext_lazy("The snapshot's parts disagree on how many parts there are."),
            [
                {
                    "path": f"{path}/snapshot/parts",
                    "message": interpolate_lazy(
                        gettext_lazy(
                            "Snapshot %(snapshot)s was announced with %(announced)d parts, not "
                            "%(parts)d."
                        ),
                        {
                            "snapshot": repr(snapshot.id),
                            "announced": announced,
                            "parts": snapshot.parts,
                        },
                    ),
                }
            ],
        )
    SnapshotPart.objects.update_or_create(
        group=group,
        audience_identifier=audience.id,
        snapshot_id=snapshot.id,
        part=snapshot.part,
        defaults={"parts": snapshot.parts, "audience": audience.to_json()},
    )
    parts = list(stored.order_by("part").values_list("audience", flat=True))
    if len(parts) < snapshot.parts:
        return PartReceived(len(parts), snapshot.parts)
    stored.delete()
    return PartReceived(len(parts), snapshot.parts, _assemble(parts))


def _assemble(parts: list[Any]) -> Audience:
    """One full audience: every part's members, the metadata of later parts over earlier ones."""
    members: dict[Any, None] = {}
    metadata: dict[str, Any] = {}
    sequences = []
    for part in parts:
        members.update(dict.fromkeys(part["members"]))
        metadata.update(part["metadata"])
        if part["sequence"] is not None:
            sequences.append(part["sequence"])
    whole = {**parts[-1], "metadata": metadata, "sequence": max(sequences, default=None)}
    return Audience.full_from_json(whole, tuple(members))


def drop_expired_parts() -> int:
    """Forget the parts of snapshots left incomplete for 24 hours; returns how many."""
    deleted, _ = SnapshotPart.objects.filter(received_at__lt=timezone.now() - EXPIRY).delete()
    return deleted


def forget_parts(group: SegmentGroup, audience_identifiers: list[str]) -> None:
    """Forget pending parts of audiences that were removed."""
    SnapshotPart.objects.filter(group=group, audience_identifier__in=audience_identifiers).delete()
