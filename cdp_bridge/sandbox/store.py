"""The sandbox's state, in a SQLite file of its own (never the site's database).

Streams and their batches, the rows received (full data and drafts apart), the columns the Data
Manager infers, tracked events and who they belong to, what each activation's site has
acknowledged, and every activation attempt. One connection, shared by the server's threads
under a lock; WAL mode, so ``cdp_sandbox activate`` in another process can work beside a
running server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cdp_bridge.sandbox.streaming import PERSON_IDENTIFIER, StreamBatch, has_identifier, value_type

DATABASE_NAME = "sandbox.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stream (
    stream_id TEXT PRIMARY KEY, account TEXT NOT NULL, schema TEXT NOT NULL,
    first_seen REAL NOT NULL, last_batch INTEGER
);
CREATE TABLE IF NOT EXISTS batch (
    id INTEGER PRIMARY KEY, stream_id TEXT, account TEXT, received REAL NOT NULL,
    draft INTEGER NOT NULL, rows INTEGER NOT NULL, status INTEGER NOT NULL, message TEXT
);
CREATE TABLE IF NOT EXISTS row (
    stream_id TEXT NOT NULL, draft INTEGER NOT NULL, row_id TEXT NOT NULL, data TEXT NOT NULL,
    batch INTEGER NOT NULL, PRIMARY KEY (stream_id, draft, row_id)
);
CREATE TABLE IF NOT EXISTS column_type (
    stream_id TEXT NOT NULL, draft INTEGER NOT NULL, name TEXT NOT NULL, type TEXT,
    first_batch INTEGER NOT NULL, changed TEXT, PRIMARY KEY (stream_id, draft, name)
);
CREATE TABLE IF NOT EXISTS flag (
    id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, draft INTEGER NOT NULL,
    batch INTEGER NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY, received REAL NOT NULL, account TEXT NOT NULL,
    event_type TEXT NOT NULL, cookie_id TEXT, user_id TEXT, params TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identity (cookie_id TEXT PRIMARY KEY, user_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acknowledged (
    activation TEXT NOT NULL, audience TEXT NOT NULL, members TEXT NOT NULL,
    sequence INTEGER NOT NULL, metadata TEXT NOT NULL, PRIMARY KEY (activation, audience)
);
CREATE TABLE IF NOT EXISTS attempt (
    id INTEGER PRIMARY KEY, activation TEXT NOT NULL, started REAL NOT NULL,
    seconds REAL NOT NULL, delivery_id TEXT, request TEXT NOT NULL, status INTEGER,
    response TEXT, outcome TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Acknowledged:
    """What an activation's site has acknowledged of one audience."""

    members: frozenset[str]
    sequence: int
    metadata: dict[str, Any]


class Store:
    """The sandbox's SQLite state under ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / DATABASE_NAME
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, in one transaction (committed, or rolled back on an error)."""
        with self.lock, self.db:
            yield self.db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    # -- settings ----------------------------------------------------------------------------

    def setting(self, name: str) -> str | None:
        found = self.query("SELECT value FROM setting WHERE name = ?", [name])
        return str(found[0]["value"]) if found else None

    def set_setting(self, name: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO setting VALUES (?, ?)", [name, value])

    # -- the Streaming API ---------------------------------------------------------------------

    def add_batch(self, batch: StreamBatch) -> int:
        """Store an accepted batch: rows upserted by id, column types and flags updated."""
        now = time.time()
        draft = int(batch.draft)
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO batch (stream_id, account, received, draft, rows, status) "
                "VALUES (?, ?, ?, ?, ?, 200)",
                [batch.stream_id, batch.account, now, draft, len(batch.rows)],
            )
            number = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO stream VALUES (?, ?, ?, ?, ?) ON CONFLICT (stream_id) DO UPDATE "
                "SET last_batch = excluded.last_batch, account = excluded.account",
                [batch.stream_id, batch.account, batch.schema, now, number],
            )
            stored = [row for row in batch.rows if has_identifier(row)]
            for row in stored:
                self._upsert_row(db, batch.stream_id, draft, row, number)
            self._update_columns(db, batch, number)
            for message in batch.problems:
                db.execute(
                    "INSERT INTO flag (stream_id, draft, batch, message) VALUES (?, ?, ?, ?)",
                    [batch.stream_id, draft, number, message],
                )
        return number

    def _upsert_row(
        self, db: sqlite3.Connection, stream_id: str, draft: int, row: dict[str, Any], number: int
    ) -> None:
        # Raptor: person data is upserted, and a null deletes the value of a property.
        row_id = str(row[PERSON_IDENTIFIER])
        found = db.execute(
            "SELECT data FROM row WHERE stream_id = ? AND draft = ? AND row_id = ?",
            [stream_id, draft, row_id],
        ).fetchone()
        merged: dict[str, Any] = json.loads(found["data"]) if found else {}
        merged.update(row)
        merged = {key: value for key, value in merged.items() if value is not None}
        db.execute(
            "INSERT OR REPLACE INTO row VALUES (?, ?, ?, ?, ?)",
            [stream_id, draft, row_id, json.dumps(merged), number],
        )

    def _update_columns(self, db: sqlite3.Connection, batch: StreamBatch, number: int) -> None:
        draft = int(batch.draft)
        types: dict[str, set[str]] = {}
        for row in batch.rows:
            for name, value in row.items():
                kind = value_type(value)
                types.setdefault(name, set())
                if kind:
                    types[name].add(kind)
        known = {
            found["name"]: found
            for found in db.execute(
                "SELECT * FROM column_type WHERE stream_id = ? AND draft = ?",
                [batch.stream_id, draft],
            )
        }
        for name, kinds in types.items():
            old = known.get(name)
            old_type = old["type"] if old else None
            seen = sorted(kinds | ({old_type} if old_type else set()))
            changed = old["changed"] if old else None
            if len(seen) > 1:
                where = "within one batch" if len(kinds) > 1 else f"in batch {number}"
                changed = f"{' and '.join(seen)} ({where})"
            if old is None:
                db.execute(
                    "INSERT INTO column_type VALUES (?, ?, ?, ?, ?, ?)",
                    [batch.stream_id, draft, name, seen[0] if seen else None, number, changed],
                )
            else:
                db.execute(
                    "UPDATE column_type SET type = ?, changed = ? "
                    "WHERE stream_id = ? AND draft = ? AND name = ?",
                    [
                        old_type or (seen[0] if seen else None),
                        changed,
                        batch.stream_id,
                        draft,
                        name,
                    ],
                )

    def add_refusal(
        self, account: str, stream_id: str | None, draft: bool, status: int, message: str
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO batch (stream_id, account, received, draft, rows, status, message) "
                "VALUES (?, ?, ?, ?, 0, ?, ?)",
                [stream_id, account, time.time(), int(draft), status, message],
            )

    def streams(self) -> list[dict[str, Any]]:
        """Every stream, with its row counts (full and draft) and its last batch."""
        found = self.query(
            "SELECT s.*, b.received AS last_received, b.rows AS last_rows, b.draft AS last_draft,"
            " (SELECT COUNT(*) FROM row r WHERE r.stream_id = s.stream_id AND r.draft = 0)"
            "   AS full_rows,"
            " (SELECT COUNT(*) FROM row r WHERE r.stream_id = s.stream_id AND r.draft = 1)"
            "   AS draft_rows,"
            " (SELECT COUNT(*) FROM batch x WHERE x.stream_id = s.stream_id AND x.status = 200)"
            "   AS batches"
            " FROM stream s LEFT JOIN batch b ON b.id = s.last_batch ORDER BY s.first_seen"
        )
        return [dict(row) | {"last_when": when(row["last_received"])} for row in found]

    def columns(self, stream_id: str, draft: bool) -> list[dict[str, Any]]:
        found = self.query(
            "SELECT * FROM column_type WHERE stream_id = ? AND draft = ? ORDER BY first_batch, "
            "rowid",
            [stream_id, int(draft)],
        )
        return [dict(row) for row in found]

    def flags(self, stream_id: str) -> list[dict[str, Any]]:
        found = self.query(
            "SELECT * FROM flag WHERE stream_id = ? ORDER BY id DESC LIMIT 50", [stream_id]
        )
        return [dict(row) for row in found]

    def batches(self, limit: int = 50) -> list[dict[str, Any]]:
        found = self.query("SELECT * FROM batch ORDER BY id DESC LIMIT ?", [limit])
        return [dict(row) | {"when": when(row["received"])} for row in found]

    def rows(
        self, stream_id: str | None = None, *, draft: bool = False, offset: int = 0, limit: int = -1
    ) -> list[dict[str, Any]]:
        """Rows received (of one stream, or of all), as stored after upserts, by id."""
        where, params = "draft = ?", [str(int(draft))]
        if stream_id is not None:
            where += " AND stream_id = ?"
            params.append(stream_id)
        found = self.query(
            f"SELECT data FROM row WHERE {where} ORDER BY stream_id, "  # noqa: S608
            "CAST(row_id AS INTEGER), row_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [json.loads(row["data"]) for row in found]

    def row_count(self, stream_id: str, *, draft: bool = False) -> int:
        found = self.query(
            "SELECT COUNT(*) AS n FROM row WHERE stream_id = ? AND draft = ?",
            [stream_id, int(draft)],
        )
        return int(found[0]["n"])

    def persons(self) -> dict[str, dict[str, Any]]:
        """Every person profile from the full data of the person streams, by identifier."""
        found = self.query(
            "SELECT r.row_id, r.data FROM row r JOIN stream s ON s.stream_id = r.stream_id "
            "WHERE r.draft = 0 AND s.schema = 'person' ORDER BY r.batch"
        )
        persons: dict[str, dict[str, Any]] = {}
        for row in found:
            persons.setdefault(row["row_id"], {}).update(json.loads(row["data"]))
        return persons

    def person_columns(self) -> set[str]:
        found = self.query(
            "SELECT DISTINCT c.name FROM column_type c JOIN stream s ON s.stream_id = c.stream_id"
            " WHERE c.draft = 0 AND s.schema = 'person'"
        )
        return {row["name"] for row in found}

    # -- tracking -------------------------------------------------------------------------------

    def add_event(
        self,
        account: str,
        event_type: str,
        params: dict[str, str],
        *,
        cookie_id: str | None,
        user_id: str | None,
        source: str,
    ) -> None:
        with self.transaction() as db:
            if event_type:
                db.execute(
                    "INSERT INTO event (received, account, event_type, cookie_id, user_id, "
                    "params, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        time.time(),
                        account,
                        event_type,
                        cookie_id,
                        user_id,
                        json.dumps(params),
                        source,
                    ],
                )
            if cookie_id and user_id:
                db.execute("INSERT OR REPLACE INTO identity VALUES (?, ?)", [cookie_id, user_id])

    def events(self, limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        """Tracked events, newest first, each with the person it is known to belong to."""
        found = self.query(
            "SELECT e.*, COALESCE(e.user_id, i.user_id) AS person FROM event e "
            "LEFT JOIN identity i ON i.cookie_id = e.cookie_id ORDER BY e.id DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [
            dict(row) | {"params": json.loads(row["params"]), "when": when(row["received"])}
            for row in found
        ]

    def event_count(self) -> int:
        return int(self.query("SELECT COUNT(*) AS n FROM event")[0]["n"])

    def person_of_cookie(self, cookie_id: str) -> str | None:
        found = self.query("SELECT user_id FROM identity WHERE cookie_id = ?", [cookie_id])
        return str(found[0]["user_id"]) if found else None

    # -- activations ----------------------------------------------------------------------------

    def acknowledged(self, activation: str) -> dict[str, Acknowledged]:
        found = self.query("SELECT * FROM acknowledged WHERE activation = ?", [activation])
        return {
            row["audience"]: Acknowledged(
                frozenset(json.loads(row["members"])), row["sequence"], json.loads(row["metadata"])
            )
            for row in found
        }

    def acknowledge(self, activation: str, audience: str, state: Acknowledged | None) -> None:
        """Record what the site now holds of an audience (None: the audience was removed)."""
        with self.transaction() as db:
            if state is None:
                db.execute(
                    "DELETE FROM acknowledged WHERE activation = ? AND audience = ?",
                    [activation, audience],
                )
                return
            db.execute(
                "INSERT OR REPLACE INTO acknowledged VALUES (?, ?, ?, ?, ?)",
                [
                    activation,
                    audience,
                    json.dumps(sorted(state.members)),
                    state.sequence,
                    json.dumps(state.metadata),
                ],
            )

    def add_attempt(
        self,
        activation: str,
        *,
        started: float,
        delivery_id: str | None,
        request: dict[str, Any],
        status: int | None,
        response: dict[str, Any] | None,
        outcome: str,
    ) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO attempt (activation, started, seconds, delivery_id, request, status,"
                " response, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    activation,
                    started,
                    time.time() - started,
                    delivery_id,
                    json.dumps(request),
                    status,
                    json.dumps(response) if response is not None else None,
                    outcome,
                ],
            )
            return int(cursor.lastrowid or 0)

    def attempts(self, limit: int = 50) -> list[dict[str, Any]]:
        found = self.query("SELECT * FROM attempt ORDER BY id DESC LIMIT ?", [limit])
        return [_attempt(row) for row in found]

    def attempt(self, number: int) -> dict[str, Any] | None:
        found = self.query("SELECT * FROM attempt WHERE id = ?", [number])
        return _attempt(found[0]) if found else None


def _attempt(row: sqlite3.Row) -> dict[str, Any]:
    attempt = dict(row)
    attempt["request"] = json.loads(row["request"])
    attempt["response"] = json.loads(row["response"]) if row["response"] else None
    attempt["when"] = when(row["started"])
    return attempt


def when(timestamp: float | None) -> str:
    """A moment for people: local time, to the second."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
