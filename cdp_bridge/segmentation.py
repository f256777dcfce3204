"""The segmentation API (Ibexa's SegmentationService).

Once a CDP activation has connected to a segment group, the group cannot change in any way:
not renamed, not re-identified, not deleted, and its segments are managed by the CDP alone.
The models enforce it (see ``cdp_bridge.models.segments``): every function here that changes a
locked group, or a segment or membership in one, raises ``SegmentGroupLocked``. The querysets
these functions return are read-only: change segments through the functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cdp_bridge import signals
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership
from cdp_bridge.models.segments import groups_of_segments, write_unless_locked

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

SEGMENT_GROUP_FIELDS = frozenset({"identifier", "name"})


def lock_segment_group(group: SegmentGroup) -> SegmentGroup:
    """Lock ``group`` when an activation first connects; later calls change nothing.

    The first lock sends ``segment_group_locked`` once its transaction commits.
    """
    if group.locked_at is None:
        now = timezone.now()
        # Only the first connection sets the time, even when two deliveries race.
        locked = SegmentGroup.objects.filter(pk=group.pk, locked_at__isnull=True).update(
            locked_at=now
        )
        group.refresh_from_db(fields=["locked_at"])
        if locked:
            signals.segment_group_locked.send_after_commit(SegmentGroup, group=group)
    return group


# -- segment groups --------------------------------------------------------------------------


def create_segment_group(identifier: str, name: str) -> SegmentGroup:
    """Create an (unlocked) segment group."""
    group = SegmentGroup(identifier=identifier, name=name)
    group.full_clean()
    group.save()
    return group


def update_segment_group(group: SegmentGroup, **changes: str) -> SegmentGroup:
    """Rename or re-identify an unlocked group and return it; a locked one refuses every change.

    The lock is read from the database under a row lock, so a stale ``group`` cannot slip a
    change past an activation that connected meanwhile.
    """
    unknown = set(changes) - SEGMENT_GROUP_FIELDS
    if unknown:
        raise TypeError(f"Cannot change {', '.join(sorted(unknown))} of a segment group.")
    with transaction.atomic():
        current = SegmentGroup.objects.for_change(group.pk, "change the segment group")
        for field, value in changes.items():
            setattr(current, field, value)
        current.full_clean()
        current.save(update_fields=[*changes])
    return current


def delete_segment_group(group: SegmentGroup) -> None:
    """Delete an unlocked group with its segments and memberships."""
    with transaction.atomic():
        current = SegmentGroup.objects.for_change(group.pk, "delete the segment group")
        Segment.objects.filter(group=current).delete()
        current.delete()


def load_segment_group(identifier: str) -> SegmentGroup:
    """The group with ``identifier``; raises SegmentGroup.DoesNotExist."""
    return SegmentGroup.objects.get(identifier=identifier)


def segment_groups() -> QuerySet[SegmentGroup]:
    """Every group, with its number of segments as ``segment_count``."""
    return SegmentGroup.objects.with_segment_count().read_only("segment_groups")


# -- segments ----------------------------------------------------------------------------------


def segments_of_group(group: SegmentGroup) -> QuerySet[Segment]:
    """The segments of a group."""
    return Segment.objects.filter(group=group).read_only("segments_of_group")


def load_segment(group: SegmentGroup | str, identifier: str) -> Segment:
    """A segment by group (or group identifier) and identifier; raises Segment.DoesNotExist."""
    if isinstance(group, SegmentGroup):
        return Segment.objects.select_related("group").get(group=group, identifier=identifier)
    return Segment.objects.select_related("group").get(
        group__identifier=group, identifier=identifier
    )


def create_segment(group: SegmentGroup, identifier: str, name: str = "", **fields: Any) -> Segment:
    """Add a segment to an unlocked group."""
    return save_segment(Segment(group=group, identifier=identifier, name=name, **fields))


def update_segment(segment: Segment, **changes: Any) -> Segment:
    """Change a segment of an unlocked group (moving it into a locked group is refused too)."""
    for field, value in changes.items():
        setattr(segment, field, value)
    return save_segment(segment)


def save_segment(segment: Segment) -> Segment:
    """Save a new or changed segment: its group, and the group it was in, must be unlocked."""
    segment.full_clean()
    segment.save()
    return segment


def delete_segment(segment: Segment) -> None:
    """Delete a segment of an unlocked group, with its memberships."""
    segment.delete()


# -- membership --------------------------------------------------------------------------------


def user_segments(user: AnyUser) -> QuerySet[Segment]:
    """The segments ``user`` is in (none for an anonymous user)."""
    if not user.is_authenticated:
        return Segment.objects.none()
    segments = Segment.objects.filter(memberships__user_id=user.pk).select_related("group")
    return segments.read_only("user_segments")


def is_user_in_segment(user: AnyUser, segment: Segment) -> bool:
    """Whether ``user`` is a member of ``segment``."""
    if not user.is_authenticated:
        return False
    return SegmentMembership.objects.filter(segment=segment, user_id=user.pk).exists()


def assign_users_to_segment(segment: Segment, users: Iterable[AbstractBaseUser]) -> None:
    """Add users to a segment of an unlocked group; users already in it are left as they are."""
    write_unless_locked(
        groups_of_segments(None, lambda: [segment.pk]),
        "assign users to the segment",
        lambda: SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, user_id=user.pk) for user in users],
            ignore_conflicts=True,
        ),
    )


def unassign_user_from_segment(segment: Segment, user: AbstractBaseUser) -> None:
    """Remove a user from a segment of an unlocked group."""
    write_unless_locked(
        groups_of_segments(None, lambda: [segment.pk]),
        "unassign users from the segment",
        SegmentMembership.objects.filter(segment=segment, user_id=user.pk).delete,
    )
