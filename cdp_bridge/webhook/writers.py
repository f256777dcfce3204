"""Set-based membership writes: compute the difference, then insert and delete in bulk.

Two writers keep one contract (``MembershipWriter``). On PostgreSQL the identifiers travel as
one array (``unnest``) or, for large sets, one ``COPY`` into a temporary table, and are joined
with the users and the memberships in SQL: a small change is one statement, a snapshot of a
million members a handful. Elsewhere the difference is computed in Python from chunked queries.
The caller holds the segment's row lock (see ``sync``). The one lock the writers take is a key-share
lock on each user they make a member, the lock the membership's foreign key takes anyway, taken
as the user is read: a user being deleted meanwhile (an erasure) is waited for, then skipped and
counted unknown, instead of failing the whole delivery when it commits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.backends.utils import CursorWrapper

from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import SegmentMembership

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

    def __init__(self, person: PersonIdentifier) -> None:
        self.person = person

    @abstractmethod
    def replace(self, segment_id: int, identifiers: Collection[Any]) -> MembershipChange:
        """Make the segment hold exactly the users named (a full sync)."""

    @abstractmethod
    def change(
        self, segment_id: int, added: Collection[Any], removed: Collection[Any]
    ) -> MembershipChange:
        """Add and remove the users named (a delta); the two sets are disjoint."""


def membership_writer(person: PersonIdentifier) -> MembershipWriter:
    """The fastest writer for the database in use."""
    if connection.vendor == "postgresql":
        return PostgresMembershipWriter(person)
    return OrmMembershipWriter(person)


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
        lookup = f"{self.person.attname}__in"
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
    """PostgreSQL: the same few set-based statements whatever the size of the sets.

    A small set (under ``COPY_FROM`` ids) travels as one array parameter and the whole change
    is one statement: the ids joined with the users, then the delete and the insert as
    data-modifying CTEs. A large set is sent once by ``COPY`` into a temporary table and each
    step is its own statement. When the person identifier is the primary key (the default),
    large sets of ids are not joined with the user table beforehand: unknown ids are filtered
    out as memberships are inserted and counted from the difference, which spares a join of a
    million rows.

    No statement may depend on the planner's luck. The membership table's statistics are stale
    on every fresh install and whenever a segment grew since the table was last analysed; with
    them, a nested loop over the segment's members (or over the rows one statement is inserting)
    once per identifier is quadratic: minutes for a re-sync of 50,000. So the small path uses
    forms that have no such plan — the members to delete are a set difference (``EXCEPT``, which
    PostgreSQL can only hash or sort), each looked up in the unique index; new members are
    inserted with ``ON CONFLICT DO NOTHING`` (an index probe each, no join) — and the large path,
    whose sets are large on both sides, runs its joins with nested loops disabled, after
    ``ANALYZE`` of the temporary table it filled.
    """

    def __init__(self, person: PersonIdentifier) -> None:
        super().__init__(person)
        quote = connection.ops.quote_name
        user_model = get_user_model()
        user_pk = user_model._meta.pk
        assert user_pk is not None
        self.memberships = quote(SegmentMembership._meta.db_table)
        self.users = quote(user_model._meta.db_table)
        self.user_pk = quote(str(user_pk.column))
        self.person_column = quote(person.column)
        self.identifier_type = _PG_TYPES[person.kind]
        self.by_primary_key = person.field == user_pk

    # -- the statements; ``w`` (and ``r``) yield user ids as ``.id`` --------------------------

    def _resolve(self, identifiers: str, *, to_add: bool = False) -> str:
        """The users the identifiers name; ``to_add``: key-share locked, to become members.

        The lock waits for a concurrent deletion of the user and then leaves them out, where
        the membership's foreign key, checked at commit, would fail the delivery.
        """
        lock = " FOR KEY SHARE OF u" if to_add else ""
        return (
            f"SELECT u.{self.user_pk} AS id FROM {identifiers} "
            f"JOIN {self.users} u ON u.{self.person_column} = i.v{lock}"
        )

    def _delete_members(self, users: str) -> str:
        """Delete the memberships of the users ``users`` (a FROM item ``u(id)``) names.

        Each is found by its own lookup of the unique index on (segment, user), and deleted by
        primary key. A join, or a list of users matched against the segment, would let the
        planner filter every member of the segment instead: for a few users removed from a
        large segment, tens of milliseconds under the segment's lock.
        """
        return (
            f"DELETE FROM {self.memberships} WHERE id = ANY(ARRAY(SELECT (SELECT m.id FROM "
            f"{self.memberships} m WHERE m.segment_id = %(segment)s AND m.user_id = u.id) "
            f"FROM {users}))"
        )

    def _members_not_in(self, users: str) -> str:
        """Delete the members that are not in ``users``: a set difference, then by index."""
        return self._delete_members(
            f"(SELECT user_id AS id FROM {self.memberships} WHERE segment_id = %(segment)s "
            f"EXCEPT SELECT id FROM {users}) u"
        )

    def _members_in(self, users: str) -> str:
        """Delete the members that are in ``users``, by index."""
        return self._delete_members(f"{users} u")

    def _add(self, users: str) -> str:
        """Insert ``users`` as members; those that are already are left alone."""
        return (
            f"INSERT INTO {self.memberships} (segment_id, user_id) SELECT %(segment)s, w.id "
            f"FROM {users} ON CONFLICT (segment_id, user_id) DO NOTHING"
        )

    # Large sets: anti- and semi-joins, hashed or merged (nested loops are disabled for them).

    def _delete_absent(self, users: str) -> str:
        return (
            f"DELETE FROM {self.memberships} m WHERE m.segment_id = %(segment)s "
            f"AND NOT EXISTS (SELECT 1 FROM {users} WHERE w.id = m.user_id)"
        )

    def _delete_listed(self, users: str) -> str:
        return (
            f"DELETE FROM {self.memberships} m WHERE m.segment_id = %(segment)s "
            f"AND m.user_id IN (SELECT id FROM {users})"
        )

    def _insert_new(self, ids: str) -> str:
        """Insert the users ``ids`` names that are not members yet: first narrowed to those
        (few, for a small change), then only those looked up — and key-share locked, as in
        ``_resolve`` — in the user table, so ids of no user, or of one deleted meanwhile, are
        left out."""
        return (
            f"WITH n AS MATERIALIZED (SELECT w.id FROM {ids} WHERE NOT EXISTS (SELECT 1 FROM "
            f"{self.memberships} m WHERE m.segment_id = %(segment)s AND m.user_id = w.id)) "
            f"INSERT INTO {self.memberships} (segment_id, user_id) SELECT %(segment)s, n.id "
            f"FROM n WHERE EXISTS (SELECT 1 FROM {self.users} u WHERE u.{self.user_pk} = n.id "
            "FOR KEY SHARE)"
        )

    # -- the contract ----------------------------------------------------------------------------

    def replace(self, segment_id: int, identifiers: Collection[Any]) -> MembershipChange:
        params: dict[str, Any] = {"segment": segment_id}
        with connection.cursor() as cursor:
            if not self._copies(cursor, identifiers):
                params["ids"] = list(identifiers)
                return self._one_statement(
                    cursor,
                    f"WITH w AS MATERIALIZED ({self._resolve(self._array('ids'), to_add=True)}), "
                    f"d AS ({self._members_not_in('w')} RETURNING 1), "
                    f"a AS ({self._add('w')} RETURNING 1) "
                    "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM d), "
                    "(SELECT count(*) FROM w)",
                    params,
                )
            with self._copied(cursor, identifiers) as (users, _):
                before = self._count_members(cursor, segment_id)
                removed = self._execute(cursor, self._delete_absent(users), params)
                added = self._execute(cursor, self._insert_new(users), params)
        # Afterwards the segment holds exactly the ids that are users.
        return MembershipChange(added, removed, before - removed + added)

    def change(
        self, segment_id: int, added: Collection[Any], removed: Collection[Any]
    ) -> MembershipChange:
        params: dict[str, Any] = {"segment": segment_id}
        with connection.cursor() as cursor:
            if not (self._copies(cursor, added) or self._copies(cursor, removed)):
                params.update(added=list(added), removed=list(removed))
                return self._one_statement(
                    cursor,
                    f"WITH r AS MATERIALIZED ({self._resolve(self._array('removed'))}), "
                    f"w AS MATERIALIZED ({self._resolve(self._array('added'), to_add=True)}), "
                    f"d AS ({self._members_in('r')} RETURNING 1), "
                    f"a AS ({self._add('w')} RETURNING 1) "
                    "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM d), "
                    "(SELECT count(*) FROM r) + (SELECT count(*) FROM w)",
                    params,
                )
            with self._copied(cursor, removed) as (users, matched_removed):
                removed_count = self._execute(cursor, self._delete_listed(users), params)
                matched = self._matched(cursor, users, matched_removed)
            with self._copied(cursor, added) as (users, _):
                added_count = self._execute(cursor, self._insert_new(users), params)
                # Counted once they are in: a user deleted meanwhile is not.
                matched += self._matched(cursor, users, None)
        return MembershipChange(added_count, removed_count, matched)

    # -- helpers ---------------------------------------------------------------------------------

    def _array(self, name: str) -> str:
        return f"unnest(%({name})s::{self.identifier_type}[]) AS i(v)"

    def _copies(self, cursor: CursorWrapper, identifiers: Collection[Any]) -> bool:
        """Whether to send the identifiers by COPY (psycopg 3 only; psycopg 2 uses arrays)."""
        return len(identifiers) >= COPY_FROM and hasattr(cursor.cursor, "copy")

    @contextmanager
    def _copied(
        self, cursor: CursorWrapper, identifiers: Collection[Any]
    ) -> Iterator[tuple[str, int | None]]:
        """The identifiers, sent by COPY, as a FROM item ``w(id)`` of user ids, with how many
        users they name, or None when the ids are not checked against the user table."""
        cursor.execute(
            f"CREATE TEMPORARY TABLE cdp_identifiers (v {self.identifier_type}) ON COMMIT DROP"
        )
        with cursor.cursor.copy("COPY cdp_identifiers (v) FROM STDIN") as copy:
            copy.write(_copy_text(identifiers, self.person.kind))
        # Statistics for what was just copied: no autovacuum has seen the table.
        cursor.execute("ANALYZE cdp_identifiers")
        if self.by_primary_key:
            with _without_nested_loops(cursor):
                yield "(SELECT v AS id FROM cdp_identifiers) w", None
        else:
            # Looked up in the user table's unique index: a nested loop is right for this join.
            cursor.execute(
                "CREATE TEMPORARY TABLE cdp_users ON COMMIT DROP AS "
                + self._resolve("cdp_identifiers i")
            )
            matched = int(cursor.rowcount)
            cursor.execute("ANALYZE cdp_users")
            with _without_nested_loops(cursor):
                yield "cdp_users w", matched
            cursor.execute("DROP TABLE cdp_users")
        # Dropped now so the next audience can use the name; on an error the rollback drops it.
        cursor.execute("DROP TABLE cdp_identifiers")

    def _count_members(self, cursor: CursorWrapper, segment_id: int) -> int:
        cursor.execute(
            f"SELECT count(*) FROM {self.memberships} WHERE segment_id = %s", [segment_id]
        )
        return int(cursor.fetchone()[0])

    def _matched(self, cursor: CursorWrapper, users: str, matched: int | None) -> int:
        if matched is not None:
            return matched
        cursor.execute(
            f"SELECT count(*) FROM {users} JOIN {self.users} u ON u.{self.user_pk} = w.id"
        )
        return int(cursor.fetchone()[0])

    @staticmethod
    def _one_statement(cursor: CursorWrapper, sql: str, params: dict[str, Any]) -> MembershipChange:
        cursor.execute(sql, params)
        added, removed, matched = cursor.fetchone()
        return MembershipChange(int(added), int(removed), int(matched))

    @staticmethod
    def _execute(cursor: CursorWrapper, sql: str, params: dict[str, Any]) -> int:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@contextmanager
def _without_nested_loops(cursor: CursorWrapper) -> Iterator[None]:
    """Plan the statements of the block with hash and merge joins only, as the setting was after.

    Both sides of each join are large (the copied ids, the segment's members), and a nested
    loop chosen on stale statistics would visit one side once per row of the other.
    """
    cursor.execute(
        "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"
    )
    (before, _) = cursor.fetchone()
    yield
    cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [before])


def _copy_text(identifiers: Collection[Any], kind: str) -> str:
    """COPY's text format, one identifier a line (only text needs escaping)."""
    if kind == "text":
        return "".join(f"{value.translate(_COPY_ESCAPES)}\n" for value in identifiers)
    return "".join(f"{value}\n" for value in identifiers)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
