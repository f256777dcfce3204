"""Audience membership, computed from what the sandbox received: person rows and tracked events.

A profile is a person of the person data (by its ``id``, the CDP's ``userid``) with the events
tracked for it, or a visitor known only by the cookie id of their events. Only persons can be
activated (the site matches members by ``userid``); the membership API also answers visitors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cdp_bridge.sandbox.audience_file import (
    AudienceDefinition,
    AudienceFile,
    AudienceFileInvalid,
    Condition,
    Did,
    Group,
    Have,
    Problem,
    parse_moment,
    read_audience_file,
)
from cdp_bridge.sandbox.store import Store

PRODUCT_ID, CATEGORY_PATH = "p2", "p4"  # Raptor's parameters (docs/tracking.md)


@dataclass
class Profile:
    """One person (``person_id``) or cookie-only visitor, with the events tracked for it."""

    person_id: str | None
    columns: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


def profiles(store: Store) -> tuple[dict[str, Profile], dict[str, Profile]]:
    """Persons by id, and visitors known only by cookie id."""
    persons = {pid: Profile(pid, columns) for pid, columns in store.persons().items()}
    visitors: dict[str, Profile] = {}
    for event in store.events():
        person = event["person"]
        if person is not None:
            persons.setdefault(person, Profile(person)).events.append(event)
        elif event["cookie_id"]:
            visitors.setdefault(event["cookie_id"], Profile(None)).events.append(event)
    return persons, visitors


def matches(condition: Condition, profile: Profile, now: datetime) -> bool:
    """Whether the profile meets the condition at the moment ``now``."""
    if isinstance(condition, Group):
        results = (matches(part, profile, now) for part in condition.conditions)
        return all(results) if condition.mode == "all" else any(results)
    if isinstance(condition, Have):
        value = profile.columns.get(condition.column)
        return value is not None and all(
            _compare(operator, value, expected, now) for operator, expected in condition.comparisons
        )
    return _did(condition, profile, now) != condition.negated


def members(
    audience: AudienceDefinition, persons: dict[str, Profile], now: datetime | None = None
) -> list[str]:
    """The ids of the persons in the audience, in id order (numbers numerically)."""
    now = now or datetime.now(UTC)
    found = [
        pid
        for pid, profile in persons.items()
        if profile.columns and matches(audience.condition, profile, now)
    ]
    return sorted(found, key=lambda pid: (not pid.isdigit(), int(pid) if pid.isdigit() else 0, pid))


def _did(condition: Did, profile: Profile, now: datetime) -> bool:
    since = now - timedelta(days=condition.within_days) if condition.within_days else None
    count = 0
    for event in profile.events:
        if event["event_type"] != condition.event_type:
            continue
        if since and datetime.fromtimestamp(event["received"], UTC) < since:
            continue
        params = event["params"]
        if condition.product is not None and params.get(PRODUCT_ID) != condition.product:
            continue
        if condition.category is not None and not _in_category(
            params.get(CATEGORY_PATH, ""), condition.category
        ):
            continue
        count += 1
    return count >= condition.at_least


def _in_category(path: str, category: str) -> bool:
    # Raptor's category path: "Id#Name;Id#Name", the top category first.
    wanted = category.casefold()
    for part in path.split(";"):
        identifier, _, name = part.partition("#")
        if wanted in (identifier.casefold(), name.casefold()):
            return True
    return False


def _compare(operator: str, value: Any, expected: Any, now: datetime) -> bool:
    if operator in ("before", "after"):
        moment, limit = parse_moment(value), parse_moment(expected, now)
        if moment is None or limit is None:
            return False
        return moment < limit if operator == "before" else moment > limit
    if operator in ("greater", "less"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return bool(value > expected if operator == "greater" else value < expected)
    if operator == "contains":
        return str(expected).casefold() in str(value).casefold()
    if operator == "in":
        return any(_equal(value, option) for option in expected)
    return _equal(value, expected)


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, date):  # YAML reads 2026-01-31 as a date; rows carry ISO text
        return parse_moment(value) == parse_moment(expected)
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    return bool(value == expected)


class AudienceSource:
    """The audience file, re-read when it changes; a broken file keeps the last good one."""

    def __init__(self, path: Path | None, log: Callable[[str], None] = lambda line: None) -> None:
        self.path = path
        self.log = log
        self.current: AudienceFile | None = None
        self.problems: tuple[Problem, ...] = ()
        self._seen: float | None = None
        self._lock = threading.Lock()

    def get(self) -> AudienceFile:
        """The last good audiences (none if there never were any), after reading any change."""
        if self.path is None:
            return AudienceFile(Path("(no audience file)"))
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                mtime = -1.0
            if mtime != self._seen:
                self._seen = mtime
                try:
                    self.current = read_audience_file(self.path)
                    self.problems = ()
                except AudienceFileInvalid as error:
                    self.problems = error.problems
                    kept = "the last good audiences stay in use" if self.current else "no audiences"
                    for problem in self.problems:
                        self.log(f"{problem} ({kept})")
            return self.current or AudienceFile(self.path)
