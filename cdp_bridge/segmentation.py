"""The segmentation API (Ibexa's SegmentationService), and the one place the group lock lives.

Once a CDP activation has connected to a segment group, the group cannot change in any way:
not renamed, not re-identified, not deleted, and its segments are managed by the CDP alone.
Every change made by people (the admin) or code (this API) goes through ``refuse_if_locked``;
only the activation webhook, which *is* the CDP, writes segments of a locked group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from cdp_bridge.exceptions import SegmentGroupLocked
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

SEGMENT_GROUP_FIELDS = frozenset({"identifier", "name"})


def refuse_if_locked(group: SegmentGroup, action: str) -> None:
    """Raise SegmentGroupLocked when ``group`` is locked; ``action`` says what was refused."""
    if group.is_locked:
        raise SegmentGroupLocked(
            f"Cannot {action}: the segment group {group.identifier!r} is connected to a CDP "
            f"activation (locked since {group.locked_at:%Y-%m-%d %H:%M} UTC) and is managed "
            "by the CDP alone. Create a new group instead."
        )


def guard_unlocked(group_pk: int, action: str) -> SegmentGroup:
    """Read a group under a row lock and refuse ``action`` if it is locked.

    Call it inside ``transaction.atomic()``: the row lock holds until the change commits, so an
    activation connecting meanwhile waits, and a stale copy in memory decides nothing.
    """
    group = SegmentGroup.objects.select_for_update().get(pk=group_pk)
    refuse_if_locked(group, action)
    return group


def lock_segment_group(group: SegmentGroup) -> SegmentGroup:
    """Lock ``group`` when an activation first connects; later calls change nothing."""
    if group.locked_at is None:
        now = timezone.now()
        # Only the first connection sets the time, even when two deliveries race.
        SegmentGroup.objects.filter(pk=group.pk, locked_at__isnull=True).update(locked_at=now)
        group.refresh_from_db(fields=["locked_at"])
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
        current = guard_unlocked(group.pk, "change the segment group")
        for field, value in changes.items():
            setattr(current, field, value)
        current.full_clean()
        current.save(update_fields=[*changes])
    return current


def delete_segment_group(group: SegmentGroup) -> None:
    """Delete an unlocked group with its segments and memberships."""
    with transaction.atomic():
        current = guard_unlocked(group.pk, "delete the segment group")
        Segment.objects.filter(group=current).delete()
        current.delete()


def load_segment_group(identifier: str) -> SegmentGroup:
    """The group with ``identifier``; raises SegmentGroup.DoesNotExist."""
    return SegmentGroup.objects.get(identifier=identifier)


def segment_groups() -> QuerySet[SegmentGroup]:
    """Every group, with its number of segments as ``segment_count``."""
    return SegmentGroup.objects.annotate(segment_count=Count("segments"))


# -- segments ----------------------------------------------------------------------------------


def segments_of_group(group: SegmentGroup) -> QuerySet[Segment]:
    """The segments of a group."""
    return Segment.objects.filter(group=group)


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
    with transaction.atomic():
        if segment.pk is not None:
            guard_unlocked(_stored_group_id(segment), "change the segment")
        segment.group = guard_unlocked(segment.group_id, "save the segment")
        segment.full_clean()
        segment.save()
    return segment


def delete_segment(segment: Segment) -> None:
    """Delete a segment of an unlocked group, with its memberships."""
    with transaction.atomic():
        guard_unlocked(_stored_group_id(segment), "delete the segment")
        segment.delete()


def _stored_group_id(segment: Segment) -> int:
    group_id: int = Segment.objects.values_list("group_id", flat=True).get(pk=segment.pk)
    return group_id


# -- membership --------------------------------------------------------------------------------


def user_segments(user: AnyUser) -> QuerySet[Segment]:
    """The segments ``user`` is in (none for an anonymous user)."""
    if not user.is_authenticated:
        return Segment.objects.none()
    return Segment.objects.filter(memberships__user_id=user.pk).select_related("group")


def is_user_in_segment(user: AnyUser, segment: Segment) -> bool:
    """Whether ``user`` is a member of ``segment``."""
    if not user.is_authenticated:
        return False
    return SegmentMembership.objects.filter(segment=segment, user_id=user.pk).exists()


def assign_users_to_segment(segment: Segment, users: Iterable[AbstractBaseUser]) -> None:
    """Add users to a segment of an unlocked group; users already in it are left as they are."""
    with transaction.atomic():
        guard_unlocked(_stored_group_id(segment), "assign users to the segment")
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, user_id=user.pk) for user in users],
            ignore_conflicts=True,
        )


def unassign_user_from_segment(segment: Segment, user: AbstractBaseUser) -> None:
    """Remove a user from a segment of an unlocked group."""
    with transaction.atomic():
        guard_unlocked(_stored_group_id(segment), "unassign users from the segment")
        SegmentMembership.objects.filter(segment=segment, user_id=user.pk).delete()
