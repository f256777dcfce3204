"""The sync engine: one delivery applied to its segment group, all of it or none of it.

Each audience becomes the segment with its id. Segments are row-locked in identifier order,
so two deliveries touching one segment never interleave and two touching several do not
deadlock. Under the lock an audience whose ``sequence`` is not greater than the segment's is
``stale`` and changes nothing, so late or repeated deliveries never roll a segment back;
otherwise its metadata is stored and its members written set-based.

Locks are always taken in one order — the group row, then segments by identifier — so that no
two deliveries can wait for each other in a cycle. Most deliveries lock segments only. One that
creates segments, or carries snapshot parts, first locks the group row (a no-key lock, which
never blocks the key-share lock a new segment's foreign key takes), so such deliveries take
their turns one at a time: two cannot create the same segment while holding each other's, and
the last part of a snapshot sees the others. A delivery that finds a segment missing only once
it holds segment locks (a new audience, or one removed meanwhile) lets them go and starts over
in that order.

This is the CDP writing: the sync engine alone writes the segments of a locked group
(``cdp_writes()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from django.db import transaction

from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import Segment, SegmentGroup, SegmentSize
from cdp_bridge.models.segment_sizes import AppliedAudience
from cdp_bridge.models.segments import cdp_writes, change_lock
from cdp_bridge.webhook.payload import Audience, Delivery
from cdp_bridge.webhook.snapshots import forget_parts, receive_part
from cdp_bridge.webhook.writers import MembershipWriter, membership_writer

AudienceStatus = Literal["applied", "stale", "pending"]


@dataclass(frozen=True)
class AudienceResult:
    """What became of one audience (``pending``: a snapshot part waiting for the others)."""

    id: str
    segment: int | None
    status: AudienceStatus
    added: int = 0
    removed: int = 0
    unknown_members: int = 0


@dataclass(frozen=True)
class RemovedAudienceResult:
    id: str
    status: Literal["removed", "not_found"]


@dataclass(frozen=True)
class SyncResult:
    audiences: tuple[AudienceResult, ...]
    removed_audiences: tuple[RemovedAudienceResult, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "audiences": [asdict(result) for result in self.audiences],
            "removed_audiences": [asdict(result) for result in self.removed_audiences],
        }


def apply_delivery(delivery: Delivery, group: SegmentGroup, person: PersonIdentifier) -> SyncResult:
    """Write the audiences of ``delivery`` into ``group``, remove the removed ones; atomically.

    Members are matched on ``person``, the person identifier of the activation's scope.
    """
    has_parts = any(audience.snapshot for audience in delivery.audiences)
    try:
        return _apply(delivery, group, person, lock_group=has_parts)
    except _SegmentsMissing:
        return _apply(delivery, group, person, lock_group=True)


class _SegmentsMissing(Exception):
    """Segments must be created: start over with the group locked first."""


def _apply(
    delivery: Delivery, group: SegmentGroup, person: PersonIdentifier, *, lock_group: bool
) -> SyncResult:
    # A savepoint when the caller has a transaction: rolling it back releases its row locks.
    with transaction.atomic(), cdp_writes():
        if lock_group:
            change_lock(SegmentGroup.objects.filter(pk=group.pk)).exists()
        results: dict[int, AudienceResult] = {}
        ready: list[tuple[int, Audience]] = []
        for index, audience in enumerate(delivery.audiences):
            if audience.snapshot is None:
                ready.append((index, audience))
                continue
            stale = _stale_part(group, audience)
            if stale is not None:
                results[index] = stale
                continue
            received = receive_part(group, audience, f"/audiences/{index}")
            if received.complete is None:
                results[index] = AudienceResult(audience.id, None, "pending")
            else:
                ready.append((index, received.complete))

        identifiers = [audience.id for _, audience in ready]
        segments = _lock(group, sorted({*identifiers, *delivery.removed_audiences}))
        missing = sorted(set(identifiers) - set(segments))
        if missing:
            if not lock_group:
                raise _SegmentsMissing
            # Whoever else creates segments in the group holds its row too, so none of these
            # can be created meanwhile; were one there (raw SQL), it is taken as it is.
            Segment.objects.bulk_create(
                [Segment(group=group, identifier=identifier) for identifier in missing],
                ignore_conflicts=True,
            )
            segments.update(_lock(group, missing))
        writer = membership_writer(person)
        for index, audience in ready:
            results[index] = _apply_audience(segments[audience.id], audience, person, writer)
        removed = _remove_audiences(group, segments, delivery.removed_audiences)
        # The dashboard's history: the size of each segment an audience was applied to.
        SegmentSize.objects.record(
            AppliedAudience(result.segment, audience.sync == "full", result.added, result.removed)
            for index, audience in ready
            if (result := results[index]).status == "applied" and result.segment is not None
        )
    return SyncResult(tuple(results[index] for index in sorted(results)), removed)


def _lock(group: SegmentGroup, identifiers: list[str]) -> dict[str, Segment]:
    locked = (
        Segment.objects.select_for_update()
        .filter(group=group, identifier__in=identifiers)
        .order_by("identifier")
    )
    return {segment.identifier: segment for segment in locked}


def _is_stale(audience: Audience, segment_sequence: int | None) -> bool:
    return (
        audience.sequence is not None
        and segment_sequence is not None
        and audience.sequence <= segment_sequence
    )


def _stale_part(group: SegmentGroup, audience: Audience) -> AudienceResult | None:
    """A snapshot part already overtaken by a later sequence is not even kept."""
    segment = Segment.objects.filter(group=group, identifier=audience.id).first()
    if segment is not None and _is_stale(audience, segment.sequence):
        return AudienceResult(audience.id, segment.pk, "stale")
    return None


def _apply_audience(
    segment: Segment, audience: Audience, person: PersonIdentifier, writer: MembershipWriter
) -> AudienceResult:
    if _is_stale(audience, segment.sequence):
        return AudienceResult(audience.id, segment.pk, "stale")
    if audience.sync == "full":
        members = person.convert(audience.members)
        change = writer.replace(segment.pk, members.values)
        given, unmatchable = len(members.values), members.unmatchable
    else:
        added = person.convert(audience.added)
        removed = person.convert(audience.removed)
        # "10" and "010" are one integer id: should it be in both lists, adding wins.
        change = writer.change(segment.pk, added.values, removed.values - added.values)
        given = len(added.values) + len(removed.values - added.values)
        unmatchable = added.unmatchable + removed.unmatchable

    fields = audience.segment_fields()
    if audience.sequence is not None:
        fields["sequence"] = audience.sequence
    for name, value in fields.items():
        setattr(segment, name, value)
    segment.save(update_fields=[*fields, "updated_at"])
    return AudienceResult(
        audience.id,
        segment.pk,
        "applied",
        added=change.added,
        removed=change.removed,
        unknown_members=unmatchable + max(0, given - change.matched),
    )


def _remove_audiences(
    group: SegmentGroup, segments: dict[str, Segment], identifiers: Iterable[str]
) -> tuple[RemovedAudienceResult, ...]:
    identifiers = list(identifiers)
    if not identifiers:
        return ()
    found = [segments[identifier].pk for identifier in identifiers if identifier in segments]
    # Memberships go with their segments: the collector deletes them in one statement.
    Segment.objects.filter(pk__in=found).delete()
    forget_parts(group, identifiers)
    return tuple(
        RemovedAudienceResult(identifier, "removed" if identifier in segments else "not_found")
        for identifier in identifiers
    )
