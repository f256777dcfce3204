"""Set-based membership writes: compute the difference, then insert and delete in bulk.

Two writers keep one contract (``MembershipWriter``). On PostgreSQL the identifiers travel as
one array (``unnest``) or, for large sets, one ``COPY`` into a temporary table, and each change
is a single statement joining them with the user table; a snapshot of a million members is a
handful of statements. Elsewhere the difference is computed in Python from chunked queries.
Neither takes a lock: the caller holds the segment's row lock (see ``sync``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.backends.utils import CursorWrapper

from cdp_bridge.models import SegmentMembership
from cdp_bridge.webhook.identifiers import PersonField

# From this many identifiers, PostgreSQL gets them by COPY rather than as one array parameter.
COPY_FROM = 10_000
CHUNK = 500
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_PG_TYPES = {"integer": "bigint", "uuid": "uuid", "text": "text"}


@dataclass(frozen=True)
class MembershipChange:
    """What a write did: memberships added and removed, identifiers that named a user."""

    added: int = 0
    removed: int = 0
    matched: int = 0


class MembershipWriter(ABC):
    """Writes a segment's memberships from person identifiers (already converted and distinct)."""

    def __init__(self, person_field: PersonField) -> None:
        self.person_field = person_field

    @abstractmethod
    def replace(self, segment_id: int, identifiers: Collection[Any]) -> MembershipChange:
        """Make the segment hold exactly the users named (a full sync)."""

    @abstractmethod
    def change(
        self, segment_id: int, added: Collection[Any], removed: Collection[Any]
    ) -> MembershipChange:
        """Add and remove the users named (a delta); the two sets are disjoint."""


def membership_writer(person_field: PersonField) -> MembershipWriter:
    """The fastest writer for the database in use."""
    if connection.vendor == "postgresql":
        return PostgresMembershipWriter(person_field)
    return OrmMembershipWriter(person_field)


class OrmMembershipWriter(MembershipWriter):
    """Any database: the difference is computed in Python, written with bulk statements."""

    def replace(self, segment_id: int, identifiers: Collection[Any]) -> MembershipChange:
        wanted = self._user_ids(identifiers)
        current = set(
            SegmentMembership.objects.filter(segment_id=segment_id).values_list(
                "user_id", flat=True
            )
        )
        removed = self._delete(segment_id, current - wanted)
        added = self._insert(segment_id, wanted - current)
        return MembershipChange(added, removed, len(wanted))

    def change(
        self, segment_id: int, added: Collection[Any], removed: Collection[Any]
    ) -> MembershipChange:
        to_add = self._user_ids(added)
        to_remove = self._user_ids(removed)
        present = self._present(segment_id, to_add)
        return MembershipChange(
            added=self._insert(segment_id, to_add - present),
            removed=self._delete(segment_id, to_remove),
            matched=len(to_add) + len(to_remove),
        )

    def _present(self, segment_id: int, user_ids: set[Any]) -> set[Any]:
        present: set[Any] = set()
        for chunk in _chunks(list(user_ids), CHUNK):
            present.update(
                SegmentMembership.objects.filter(
                    segment_id=segment_id, user_id__in=chunk
                ).values_list("user_id", flat=True)
            )
        return present

    def _user_ids(self, identifiers: Collection[Any]) -> set[Any]:
        users = get_user_model()._default_manager
        lookup = f"{self.person_field.field.attname}__in"
        found: set[Any] = set()
        for chunk in _chunks(list(identifiers), CHUNK):
            found.update(users.filter(**{lookup: chunk}).values_list("pk", flat=True))
        return found

    def _insert(self, segment_id: int, user_ids: set[Any]) -> int:
        SegmentMembership.objects.bulk_create(
            (SegmentMembership(segment_id=segment_id, user_id=user_id) for user_id in user_ids),
            batch_size=CHUNK,
        )
        return len(user_ids)

    def _delete(self, segment_id: int, user_ids: set[Any]) -> int:
        deleted = 0
        for chunk in _chunks(list(user_ids), CHUNK):
            deleted += SegmentMembership.objects.filter(
                segment_id=segment_id, user_id__in=chunk
            ).delete()[0]
        return deleted


class PostgresMembershipWriter(MembershipWriter):
    """PostgreSQL: each change is one statement over the identifiers joined with the users.

    When the person identifier is the user's primary key (the default), a large set is used as
    it arrives: unknown ids are filtered out as memberships are inserted, and counted from the
    difference, which spares joining a million ids with the user table beforehand.
    """

    def __init__(self, person_field: PersonField) -> None:
        super().__init__(person_field)
        quote = connection.ops.quote_name
        user_model = get_user_model()
        self.membership_table = quote(SegmentMembership._meta.db_table)
        self.user_table = quote(user_model._meta.db_table)
        user_pk = user_model._meta.pk
        assert user_pk is not None
        self.user_pk = quote(str(user_pk.column))
        self.user_pk_type = user_pk.cast_db_type(connection)
        self.person_column = quote(person_field.column)
        self.identifier_type = _PG_TYPES[person_field.kind]
        self.by_primary_key = person_field.field == user_pk

    def replace(self, segment_id: int, identifiers: Collection[Any]) -> MembershipChange:
        with connection.cursor() as cursor, self._users(cursor, identifiers) as users:
            before = 0 if users.checked else self._count_members(cursor, segment_id)
            removed = self._execute(
                cursor,
                f"DELETE FROM {self.membership_table} m WHERE m.segment_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {users.sql} WHERE w.id = m.user_id)",
                [segment_id, *users.params],
            )
            added = self._insert(cursor, segment_id, users)
        # Unchecked ids: afterwards the segment holds exactly those that are users.
        matched = users.matched if users.matched is not None else before - removed + added
        return MembershipChange(added, removed, matched)

    def change(
        self, segment_id: int, added: Collection[Any], removed: Collection[Any]
    ) -> MembershipChange:
        with connection.cursor() as cursor:
            with self._users(cursor, removed) as users:
                removed_count = self._execute(
                    cursor,
                    f"DELETE FROM {self.membership_table} m WHERE m.segment_id = %s "
                    f"AND m.user_id IN (SELECT w.id FROM {users.sql})",
                    [segment_id, *users.params],
                )
                matched = self._matched(cursor, users)
            with self._users(cursor, added) as users:
                added_count = self._insert(cursor, segment_id, users)
                matched += self._matched(cursor, users)
        return MembershipChange(added_count, removed_count, matched)

    def _insert(self, cursor: CursorWrapper, segment_id: int, users: _Users) -> int:
        new_members = (
            f"SELECT w.id FROM {users.sql} WHERE NOT EXISTS (SELECT 1 FROM "
            f"{self.membership_table} m WHERE m.segment_id = %s AND m.user_id = w.id)"
        )
        insert = f"INSERT INTO {self.membership_table} (segment_id, user_id) SELECT %s, n.id"
        if users.checked:
            sql = f"{insert} FROM ({new_members}) n"
            return self._execute(cursor, sql, [segment_id, *users.params, segment_id])
        # Unchecked ids are first narrowed to those not yet members (few, for a small change),
        # and only those are looked up in the user table.
        sql = (
            f"WITH n AS MATERIALIZED ({new_members}) {insert} FROM n "
            f"WHERE EXISTS (SELECT 1 FROM {self.user_table} u WHERE u.{self.user_pk} = n.id)"
        )
        return self._execute(cursor, sql, [*users.params, segment_id, segment_id])

    def _count_members(self, cursor: CursorWrapper, segment_id: int) -> int:
        cursor.execute(
            f"SELECT count(*) FROM {self.membership_table} WHERE segment_id = %s", [segment_id]
        )
        return int(cursor.fetchone()[0])

    def _matched(self, cursor: CursorWrapper, users: _Users) -> int:
        if users.matched is not None:
            return users.matched
        cursor.execute(
            f"SELECT count(*) FROM {users.sql} JOIN {self.user_table} u ON u.{self.user_pk} = w.id",
            users.params,
        )
        return int(cursor.fetchone()[0])

    @contextmanager
    def _users(self, cursor: CursorWrapper, identifiers: Collection[Any]) -> Iterator[_Users]:
        """The users the identifiers name, as a FROM item ``w(id)``."""
        raw = cursor.cursor
        if len(identifiers) < COPY_FROM or not hasattr(raw, "copy"):
            cursor.execute(
                f"SELECT u.{self.user_pk} FROM unnest(%s::{self.identifier_type}[]) AS i(v) "
                f"JOIN {self.user_table} u ON u.{self.person_column} = i.v",
                [list(identifiers)],
            )
            user_ids = [row[0] for row in cursor.fetchall()]
            yield _Users(f"unnest(%s::{self.user_pk_type}[]) AS w(id)", [user_ids], len(user_ids))
            return
        cursor.execute(
            f"CREATE TEMPORARY TABLE cdp_identifiers (v {self.identifier_type}) ON COMMIT DROP"
        )
        with raw.copy("COPY cdp_identifiers (v) FROM STDIN") as copy:
            copy.write(_copy_text(identifiers, self.person_field.kind))
        cursor.execute("ANALYZE cdp_identifiers")
        if self.by_primary_key:
            yield _Users("(SELECT v AS id FROM cdp_identifiers) w", [], None)
        else:
            cursor.execute(
                f"CREATE TEMPORARY TABLE cdp_users ON COMMIT DROP AS SELECT u.{self.user_pk} "
                f"AS id FROM cdp_identifiers i "
                f"JOIN {self.user_table} u ON u.{self.person_column} = i.v"
            )
            matched = int(cursor.rowcount)
            cursor.execute("ANALYZE cdp_users")
            yield _Users("cdp_users w", [], matched)
            cursor.execute("DROP TABLE cdp_users")
        # Dropped now so the next audience can use the name; on an error the rollback drops it.
        cursor.execute("DROP TABLE cdp_identifiers")

    @staticmethod
    def _execute(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> int:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@dataclass(frozen=True)
class _Users:
    """A FROM item yielding user ids as ``w.id``, with its parameters.

    ``matched`` is how many users it yields, or None when its ids are not checked against the
    user table yet (so some may name no user).
    """

    sql: str
    params: list[Any]
    matched: int | None

    @property
    def checked(self) -> bool:
        return self.matched is not None


def _copy_text(identifiers: Collection[Any], kind: str) -> str:
    """COPY's text format, one identifier a line (only text needs escaping)."""
    if kind == "text":
        return "".join(f"{value.translate(_COPY_ESCAPES)}\n" for value in identifiers)
    return "".join(f"{value}\n" for value in identifiers)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
