"""Segment groups, segments and the membership of users in segments (Ibexa's segmentation).

The group lock lives here, in the model layer. Once a CDP activation has connected to a group
(``locked_at`` is set), the group cannot change in any way, and its segments and their
memberships are managed by the CDP alone: the models refuse every change made through the ORM —
``save()`` and ``delete()`` of an instance, ``update()``, ``delete()`` and ``bulk_create()`` (an
upsert included) of a queryset, the related managers (``group.segments``, ``segment.members``),
and the base managers Django reads related objects with — by raising ``SegmentGroupLocked``.
Only code inside ``cdp_writes()`` passes: the activation webhook's sync engine, which *is* the
CDP. On PostgreSQL, triggers refuse the same changes made in SQL, or by ORM paths that never
call these querysets (a ``QuerySet`` built by hand), as a ProgrammingError (migration
0007_segment_lock_guard). Deleting a user is never refused: the user's memberships
are removed with them (an erasure request must never be blocked by a segment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Self, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cdp_bridge.exceptions import SegmentGroupLocked
from cdp_bridge.local_time import local_time

# The transaction-local PostgreSQL setting that lets the sync engine's statements past the
# triggers; raw SQL that must write a locked group's segments can set it too.
CDP_WRITES_SETTING = "cdp_bridge.cdp_writes"
_cdp_writing: ContextVar[bool] = ContextVar("cdp_bridge_cdp_writing", default=False)
_M = TypeVar("_M", bound=models.Model)
_T = TypeVar("_T")
_Q = TypeVar("_Q", bound=models.QuerySet[Any])


@contextmanager
def cdp_writes(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Let the block write segments of locked groups: the sync engine applying a delivery.

    Enter it inside the transaction that writes (the database's pass is local to it).
    """
    connection = connections[using]
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [CDP_WRITES_SETTING])
    token = _cdp_writing.set(True)
    try:
        yield
    finally:
        _cdp_writing.reset(token)
    # Not reached after an error: rolling the transaction back withdraws the pass as well.
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'off', true)", [CDP_WRITES_SETTING])


def locked_error(identifier: str, locked_at: datetime, action: str) -> SegmentGroupLocked:
    """The refusal of ``action`` (translated: ``change the segment group``) on a locked group."""
    return SegmentGroupLocked(
        gettext(
            "Cannot %(action)s: the segment group %(identifier)s is connected to a CDP activation "
            "(locked since %(locked_at)s) and is managed by the CDP alone. Create a new group "
            "instead."
        )
        % {"action": action, "identifier": repr(identifier), "locked_at": local_time(locked_at)}
    )


def change_lock(groups: _Q) -> _Q:
    """``groups`` under a row lock that waits for a change of a group (locking it, say) but not
    for segments being added to it: a no-key lock where the database has one (PostgreSQL)."""
    no_key = connections[groups.db].features.has_select_for_no_key_update
    return groups.select_for_update(no_key=no_key)


def write_unless_locked(
    groups: Callable[[], models.QuerySet[SegmentGroup]], action: str, write: Callable[[], _T]
) -> _T:
    """``write()``, unless one of ``groups`` is locked: then SegmentGroupLocked, nothing written.

    The groups are read under a row lock in the transaction that writes, so an activation
    connecting meanwhile (an UPDATE of the group) waits for the write, and a stale copy in
    memory decides nothing. The lock takes no key: others may still add segments to the groups.
    Inside ``cdp_writes()`` nothing is checked.
    """
    if _cdp_writing.get():
        return write()
    rows = change_lock(groups()).order_by("pk")
    with transaction.atomic(using=rows.db, savepoint=False):
        for identifier, locked_at in rows.values_list("identifier", "locked_at"):
            if locked_at is not None:
                refusal = locked_error(identifier, locked_at, action)
                break
        else:
            return write()
    # Raised once the transaction is left cleanly, so that a caller may catch it and go on.
    raise refusal


GroupsOf = Callable[[], models.QuerySet["SegmentGroup"]]


def _groups(using: str | None, pks: Callable[[], Any]) -> GroupsOf:
    """The groups whose primary keys ``pks()`` gives (a list, or a ``values()`` subquery)."""
    return lambda: SegmentGroup._base_manager.db_manager(using).filter(pk__in=pks())


def groups_of_segments(using: str | None, segments: Callable[[], Any]) -> GroupsOf:
    """The groups of the segments whose primary keys ``segments()`` gives."""
    return _groups(
        using,
        lambda: (
            Segment._base_manager.db_manager(using).filter(pk__in=segments()).values("group_id")
        ),
    )


class ReadOnlyResults(models.QuerySet[_M]):
    """A queryset whose ``read_only()`` copies refuse every write: the segmentation API's results.

    Writes to segments go through the API's functions, which name what they do; a locked group
    refuses them anyway.
    """

    _handed_out_by: str | None = None

    def read_only(self, handed_out_by: str) -> Self:
        results = self.all()
        results._handed_out_by = handed_out_by
        return results

    def _clone(self) -> Self:
        clone: Self = super()._clone()  # type: ignore[misc]
        clone._handed_out_by = self._handed_out_by
        return clone

    def refuse_writes(self, action: str) -> None:
        if self._handed_out_by is not None:
            raise TypeError(
                f"Cannot {action}: {self._handed_out_by}() returns read-only results. Change "
                "segments and memberships with the functions of cdp_bridge.segmentation."
            )


def _upserts(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``bulk_create(objs, *args, **kwargs)`` updates the rows it conflicts with."""
    # QuerySet.bulk_create(objs, batch_size, ignore_conflicts, update_conflicts, ...)
    return bool(kwargs.get("update_conflicts", len(args) > 2 and args[2]))


def _pks(objs: Iterable[models.Model]) -> list[Any]:
    return [obj.pk for obj in objs if obj.pk is not None]


class SegmentGroupQuerySet(ReadOnlyResults["SegmentGroup"]):
    def bulk_create(
        self, objs: Iterable[SegmentGroup], *args: Any, **kwargs: Any
    ) -> list[SegmentGroup]:
        """Create groups; an upsert (``update_conflicts``) must not change a locked one."""
        self.refuse_writes("create segment groups")
        objs = list(objs)

        def create() -> list[SegmentGroup]:
            return super(SegmentGroupQuerySet, self).bulk_create(objs, *args, **kwargs)

        if not _upserts(args, kwargs):
            return create()
        # The stored groups an upsert would update: those whose key or identifier it repeats.
        return write_unless_locked(
            lambda: SegmentGroup._base_manager.db_manager(self.db).filter(
                models.Q(pk__in=_pks(objs)) | models.Q(identifier__in=[g.identifier for g in objs])
            ),
            gettext("change the segment group"),
            create,
        )

    def update(self, **kwargs: Any) -> int:
        self.refuse_writes("update segment groups")
        return write_unless_locked(
            self._changed,
            gettext("change the segment group"),
            lambda: super(SegmentGroupQuerySet, self).update(**kwargs),
        )

    def delete(self) -> tuple[int, dict[str, int]]:
        self.refuse_writes("delete segment groups")
        return write_unless_locked(
            self._changed,
            gettext("delete the segment group"),
            lambda: super(SegmentGroupQuerySet, self).delete(),
        )

    def _changed(self) -> models.QuerySet[SegmentGroup]:
        """The groups a write would change, with its own conditions where they can be locked:
        waiting for a row lock, PostgreSQL checks them again on the row as it is now (a group
        another delivery locked meanwhile no longer matches ``locked_at__isnull=True``)."""
        if self.query.group_by is None and not self.query.distinct:
            return self.all()
        return SegmentGroup._base_manager.db_manager(self.db).filter(pk__in=self.values("pk"))

    def for_change(self, pk: int, action: str) -> SegmentGroup:
        """The group, read under a row lock for a change; refuses ``action`` if it is locked.

        Call it inside the change's transaction.
        """
        group: SegmentGroup = change_lock(self).get(pk=pk)
        group.refuse_if_locked(action)
        return group

    def with_segment_count(self) -> Self:
        """Each group with its number of segments, as ``segment_count``."""
        return self.annotate(segment_count=models.Count("segments"))


class SegmentGroup(models.Model):
    """A container of segments; a CDP activation writes its audiences into one group.

    ``locked_at`` is set when an activation first connects; from then on the group cannot
    be changed.
    """

    identifier = models.SlugField(_("identifier"), max_length=255, unique=True)
    name = models.CharField(_("name"), max_length=255)
    locked_at = models.DateTimeField(
        _("locked at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When a CDP activation first connected; a locked group cannot change."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SegmentGroupQuerySet.as_manager()

    class Meta:
        # Django's own reads (related objects, refresh_from_db) and ``_base_manager`` go through
        # the guarded manager too.
        base_manager_name = "objects"
        ordering = ["identifier"]
        verbose_name = _("segment group")
        verbose_name_plural = _("segment groups")

    def __str__(self) -> str:
        return self.name or self.identifier

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the group; once it is locked, it refuses every change."""
        write_unless_locked(
            _groups(kwargs.get("using"), lambda: [self.pk]),
            gettext("change the segment group"),
            lambda: super(SegmentGroup, self).save(*args, **kwargs),
        )

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Delete the group (its segments must be deleted first); a locked one refuses."""
        return write_unless_locked(
            _groups(using, lambda: [self.pk]),
            gettext("delete the segment group"),
            lambda: super(SegmentGroup, self).delete(using, keep_parents),
        )

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    def refuse_if_locked(self, action: str) -> None:
        """Raise SegmentGroupLocked if this copy of the group is locked (without reading it)."""
        if self.locked_at is not None:
            raise locked_error(self.identifier, self.locked_at, action)


class SegmentQuerySet(ReadOnlyResults["Segment"]):
    def update(self, **kwargs: Any) -> int:
        """Change segments; their groups, and a group they are moved to, must be unlocked."""
        self.refuse_writes("update segments")
        target = [_pk(kwargs[name]) for name in ("group", "group_id") if name in kwargs]
        return write_unless_locked(
            _groups(self.db, lambda: [*target, *self.values_list("group_id", flat=True)]),
            gettext("change the segment"),
            lambda: super(SegmentQuerySet, self).update(**kwargs),
        )

    def delete(self) -> tuple[int, dict[str, int]]:
        self.refuse_writes("delete segments")
        return write_unless_locked(
            _groups(self.db, lambda: self.values("group_id")),
            gettext("delete the segment"),
            lambda: super(SegmentQuerySet, self).delete(),
        )

    def bulk_create(self, objs: Iterable[Segment], *args: Any, **kwargs: Any) -> list[Segment]:
        """Create segments: their groups must be unlocked, and so must the groups of the stored
        segments an upsert (``update_conflicts``) would update by primary key."""
        self.refuse_writes("create segments")
        objs = list(objs)
        stored = _pks(objs) if _upserts(args, kwargs) else []
        return write_unless_locked(
            _groups(
                self.db,
                lambda: [
                    *{segment.group_id for segment in objs},
                    *Segment._base_manager.db_manager(self.db)
                    .filter(pk__in=stored)
                    .values_list("group_id", flat=True),
                ],
            ),
            gettext("add segments to the segment group"),
            lambda: super(SegmentQuerySet, self).bulk_create(objs, *args, **kwargs),
        )

    def with_member_count(self) -> Self:
        """Each segment with its number of members, as ``member_count``.

        A subquery per row counts through the membership index: no N+1, and correct even when
        the queryset joins the memberships (a search by user).
        """
        members = (
            SegmentMembership.objects.filter(segment=models.OuterRef("pk"))
            .order_by()
            .values("segment")
            .annotate(count=models.Count("*"))
            .values("count")
        )
        count = Coalesce(models.Subquery(members, output_field=models.IntegerField()), 0)
        return self.annotate(member_count=count)


class Segment(models.Model):
    """A set of users; for a locked group, one CDP audience with its metadata."""

    group = models.ForeignKey(
        SegmentGroup,
        on_delete=models.PROTECT,
        related_name="segments",
        verbose_name=_("group"),
    )
    identifier = models.CharField(_("identifier"), max_length=255)
    name = models.CharField(_("name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    profile_count = models.PositiveBigIntegerField(
        _("profile count"),
        null=True,
        blank=True,
        help_text=_("The audience's size in the CDP, which counts profiles the site may not have."),
    )
    cdp_updated_at = models.DateTimeField(_("updated in the CDP"), null=True, blank=True)
    sequence = models.BigIntegerField(
        _("sequence"),
        null=True,
        blank=True,
        help_text=_("The highest audience sequence applied; older deliveries are ignored."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="SegmentMembership",
        related_name="cdp_segments",
        verbose_name=_("members"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"  # as SegmentGroup's
        ordering = ["group", "identifier"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "identifier"], name="cdp_segment_unique_identifier"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.identifier

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the segment: its group, and the group it was in, must be unlocked."""
        write_unless_locked(
            _groups(kwargs.get("using"), lambda: [self.group_id, *self._stored("group_id")]),
            gettext("save the segment"),
            lambda: super(Segment, self).save(*args, **kwargs),
        )

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Delete the segment and its memberships: its group must be unlocked."""
        return write_unless_locked(
            _groups(using, lambda: self._stored("group_id")),
            gettext("delete the segment"),
            lambda: super(Segment, self).delete(using, keep_parents),
        )

    def _stored(self, field: str) -> list[Any]:
        return list(Segment._base_manager.filter(pk=self.pk).values_list(field, flat=True))


class SegmentMembershipQuerySet(ReadOnlyResults["SegmentMembership"]):
    def update(self, **kwargs: Any) -> int:
        self.refuse_writes("update memberships")
        target = [_pk(kwargs[name]) for name in ("segment", "segment_id") if name in kwargs]
        return write_unless_locked(
            groups_of_segments(
                self.db, lambda: [*target, *self.values_list("segment_id", flat=True)]
            ),
            gettext("change the segment's members"),
            lambda: super(SegmentMembershipQuerySet, self).update(**kwargs),
        )

    def delete(self) -> tuple[int, dict[str, int]]:
        self.refuse_writes("delete memberships")
        return write_unless_locked(
            groups_of_segments(self.db, lambda: self.values("segment_id")),
            gettext("remove members from the segment"),
            lambda: super(SegmentMembershipQuerySet, self).delete(),
        )

    def bulk_create(
        self, objs: Iterable[SegmentMembership], *args: Any, **kwargs: Any
    ) -> list[SegmentMembership]:
        self.refuse_writes("add members")
        objs = list(objs)
        stored = _pks(objs) if _upserts(args, kwargs) else []
        return write_unless_locked(
            groups_of_segments(
                self.db,
                lambda: [
                    *{member.segment_id for member in objs},
                    *SegmentMembership._base_manager.db_manager(self.db)
                    .filter(pk__in=stored)
                    .values_list("segment_id", flat=True),
                ],
            ),
            gettext("add members to the segment"),
            lambda: super(SegmentMembershipQuerySet, self).bulk_create(objs, *args, **kwargs),
        )


class SegmentMembership(models.Model):
    """One user in one segment. Unique per pair; indexed by user for "my segments" lookups."""

    id = models.BigAutoField(primary_key=True)
    # The unique constraint's index starts with segment_id, so it serves segment lookups.
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cdp_segment_memberships",
    )

    objects = SegmentMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "user"], name="cdp_membership_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.segment}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the membership: its segment (before and after) must be in an unlocked group."""
        write_unless_locked(
            groups_of_segments(kwargs.get("using"), self._segment_ids),
            gettext("change the segment's members"),
            lambda: super(SegmentMembership, self).save(*args, **kwargs),
        )

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Remove the member: the segment must be in an unlocked group.

        Deleting a user is never refused: their memberships go with them, not through this.
        """
        return write_unless_locked(
            groups_of_segments(using, self._segment_ids),
            gettext("remove members from the segment"),
            lambda: super(SegmentMembership, self).delete(using, keep_parents),
        )

    def _segment_ids(self) -> list[Any]:
        """Its segment, and the one it was in."""
        stored = SegmentMembership._base_manager.filter(pk=self.pk)
        return [self.segment_id, *stored.values_list("segment_id", flat=True)]


def _pk(value: Any) -> Any:
    """The primary key a foreign key is set to in ``update()``: an instance or its key."""
    return value.pk if isinstance(value, models.Model) else value
