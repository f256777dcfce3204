"""The sandbox's audience file: audiences, the activations that sync them, the membership API.

Audiences are written with the Audience Builder's conditions: ``have`` (a person column compared
with a value), ``did`` and ``did not`` (a tracked event, optionally for a product or a category,
at least N times, within D days), combined with ``all`` or ``any``. Every problem is reported
with the file and line where it is written; see docs/sandbox.md for the format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from cdp_bridge.conf.placeholders import PlaceholderError, resolve
from cdp_bridge.tracking.events import EVENT_TYPES

# The head script queues a page view before any event; Raptor counts it as an event type too.
TRACKED_EVENTS = (*EVENT_TYPES, "pageview")
COMPARISONS = ("equals", "in", "contains", "greater", "less", "before", "after")
EVENT_OPTIONS = ("product", "category", "at_least", "within_days")
AUDIENCE_KEYS = ("id", "name", "description", "tags", "all", "any")
ACTIVATION_KEYS = (
    "name",
    "client_id",
    "client_secret",
    "base_url",
    "segment_group_identifier",
    "audiences",
    "authentication",
    "signing_secret",
    "snapshot_size",
    "gzip_above",
    "attempts",
)
MEMBERSHIP_KEYS = ("activation_id", "api_key", "audiences")
AUTHENTICATIONS = ("basic", "oauth2")
DAYS_AGO = re.compile(r"(\d+) days? ago")
HTTP_URL = re.compile(r"https?://[^\s/?#]+(/\S*)?")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file, where it is written."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        if not self.line:  # the file as a whole: it cannot be read
            return f"{self.path}: {self.message}"
        return f"{self.path}, line {self.line}: {self.message}"


class AudienceFileInvalid(Exception):
    """The file cannot be used; ``problems`` lists each mistake with its line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Have:
    """A person column compared with a value (``comparisons``: operator -> value)."""

    column: str
    comparisons: tuple[tuple[str, Any], ...]
    line: int


@dataclass(frozen=True)
class Did:
    """An event type done at least ``at_least`` times (within ``within_days``); or not."""

    event_type: str
    negated: bool = False
    product: str | None = None
    category: str | None = None
    at_least: int = 1
    within_days: int | None = None
    line: int = 0


@dataclass(frozen=True)
class Group:
    """Conditions that must all hold (``all``) or of which one must (``any``)."""

    mode: str
    conditions: tuple[Have | Did | Group, ...]


Condition = Have | Did | Group


@dataclass(frozen=True)
class AudienceDefinition:
    id: str
    name: str
    condition: Group
    description: str = ""
    tags: tuple[str, ...] = ()
    line: int = 0

    def columns(self) -> list[Have]:
        """Every ``have`` condition, to check its column against the data received."""
        found: list[Have] = []
        pending: list[Condition] = [self.condition]
        while pending:
            condition = pending.pop()
            if isinstance(condition, Group):
                pending.extend(condition.conditions)
            elif isinstance(condition, Have):
                found.append(condition)
        return found


@dataclass(frozen=True)
class ActivationDefinition:
    """The CDP's activation form: the four values, the audiences, and how to send."""

    name: str
    client_id: str
    client_secret: str
    base_url: str
    segment_group_identifier: str
    audiences: tuple[str, ...]
    authentication: str = "basic"
    signing_secret: str | None = None
    snapshot_size: int = 10_000  # members per request; more are sent as snapshot parts
    gzip_above: int = 32 * 1024  # bytes; larger bodies are sent gzip-compressed
    attempts: int = 5  # per request, on 429, 5xx and connection errors


@dataclass(frozen=True)
class MembershipDefinition:
    """The CDP API activation, which answers the membership API."""

    activation_id: str
    api_key: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class AudienceFile:
    path: Path
    audiences: tuple[AudienceDefinition, ...] = ()
    activations: tuple[ActivationDefinition, ...] = ()
    membership: MembershipDefinition | None = None
    mtime: float = 0.0
    lines: dict[str, int] = field(default_factory=dict)

    def audience(self, identifier: str) -> AudienceDefinition | None:
        return next((a for a in self.audiences if a.id == identifier), None)

    def column_problems(self, columns: set[str]) -> list[Problem]:
        """``have`` conditions on columns no person data has: empty until person data arrives."""
        if not columns:
            return []
        known = ", ".join(sorted(columns))
        return [
            Problem(
                self.path,
                have.line,
                f"audience {audience.id!r}: unknown column {have.column!r}; the person data "
                f"received has {known}.",
            )
            for audience in self.audiences
            for have in audience.columns()
            if have.column not in columns
        ]


def read_audience_file(path: Path) -> AudienceFile:
    """Read and check the file; AudienceFileInvalid lists every problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except OSError as error:
        raise AudienceFileInvalid([Problem(path, 0, f"cannot be read: {error.strerror}")]) from None
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        reason = getattr(error, "problem", None) or str(error)
        raise AudienceFileInvalid([Problem(path, line, f"not valid YAML: {reason}")]) from None
    except _DuplicateKey as error:
        raise AudienceFileInvalid([Problem(path, error.line, str(error))]) from None
    return _Reader(path).read(document, mtime)


class _Lined(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key."""

    line = 0
    lines: dict[Any, int]


class _DuplicateKey(Exception):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(f"the key {key!r} is given twice.")
        self.line = line


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Lined:
    loader.flatten_mapping(node)
    mapping = _Lined()
    mapping.line = node.start_mark.line + 1
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Reader:
    """Turns the loaded document into definitions, collecting every problem."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def read(self, document: object, mtime: float) -> AudienceFile:
        if document is None:
            document = _Lined()
            document.lines = {}
        if not isinstance(document, _Lined):
            raise AudienceFileInvalid(
                [
                    Problem(
                        self.path,
                        1,
                        "the file must be a mapping with 'audiences' (and "
                        "optionally 'activations' and 'membership').",
                    )
                ]
            )
        self.unknown_keys(document, ("audiences", "activations", "membership"), "the file")
        audiences = tuple(
            audience
            for item in self.items(document, "audiences")
            if (audience := self.audience(item)) is not None
        )
        ids = [audience.id for audience in audiences]
        for index, audience in enumerate(audiences):
            if audience.id in ids[:index]:
                self.problem(audience.line, f"two audiences have the id {audience.id!r}.")
        activations = tuple(
            activation
            for item in self.items(document, "activations")
            if (activation := self.activation(item, set(ids))) is not None
        )
        names = [activation.name for activation in activations]
        for name in {n for n in names if names.count(n) > 1}:
            self.problem(
                document.lines.get("activations", 1), f"two activations are named {name!r}."
            )
        membership = None
        if "membership" in document:
            membership = self.membership(
                document["membership"], document.lines["membership"], set(ids)
            )
        if self.problems:
            raise AudienceFileInvalid(sorted(self.problems, key=lambda p: p.line))
        return AudienceFile(self.path, audiences, activations, membership, mtime)

    def items(self, document: _Lined, key: str) -> list[_Lined]:
        value = document.get(key)
        if value is None:
            return []
        line = document.lines[key]
        if not isinstance(value, list):
            self.problem(line, f"{key!r} must be a list.")
            return []
        found = []
        for item in value:
            if isinstance(item, _Lined):
                found.append(item)
            else:
                self.problem(line, f"each of {key!r} must be a mapping, not {item!r}.")
        return found

    def unknown_keys(self, mapping: _Lined, allowed: Iterable[str], where: str) -> None:
        allowed = tuple(allowed)
        for key in mapping:
            if key not in allowed:
                self.problem(
                    mapping.lines[key],
                    f"unknown key {key!r} in {where}; use {', '.join(allowed)}.",
                )

    def text(self, mapping: _Lined, key: str, where: str, *, required: bool = True) -> str | None:
        value = mapping.get(key)
        line = mapping.lines.get(key, mapping.line)
        if value is None:
            if required:
                self.problem(line, f"{where} needs {key!r}.")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.problem(line, f"{where}: {key!r} must be text, not {value!r}.")
            return None
        try:
            resolved = resolve(str(value))
        except PlaceholderError as error:
            self.problem(line, f"{where}: {key!r}: {error}")
            return None
        return str(resolved)

    def number(self, mapping: _Lined, key: str, where: str, default: int, minimum: int) -> int:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(
                mapping.lines.get(key, mapping.line),
                f"{where}: {key!r} must be a whole number of at least {minimum}, not {value!r}.",
            )
            return default
        return value

    def names(self, mapping: _Lined, key: str, where: str, known: set[str]) -> tuple[str, ...]:
        value = mapping.get(key)
        line = mapping.lines.get(key, mapping.line)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(line, f"{where}: {key!r} must be a list of audience ids.")
            return ()
        for name in value:
            if name not in known:
                self.problem(line, f"{where}: no audience has the id {name!r}.")
        return tuple(value)

    # -- audiences ------------------------------------------------------------------------------

    def audience(self, item: _Lined) -> AudienceDefinition | None:
        identifier = self.text(item, "id", "an audience")
        where = f"audience {identifier!r}" if identifier else "an audience"
        self.unknown_keys(item, AUDIENCE_KEYS, where)
        name = self.text(item, "name", where, required=False) or identifier
        description = self.text(item, "description", where, required=False) or ""
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            self.problem(
                item.lines.get("tags", item.line), f"{where}: 'tags' must be a list of text."
            )
            tags = []
        modes = [mode for mode in ("all", "any") if mode in item]
        if len(modes) != 1:
            self.problem(
                item.line, f"{where} needs its conditions under 'all' or 'any' (one of them)."
            )
            return None
        condition = self.group(modes[0], item[modes[0]], item.lines[modes[0]], where)
        if identifier is None or name is None or condition is None:
            return None
        return AudienceDefinition(identifier, name, condition, description, tuple(tags), item.line)

    def group(self, mode: str, value: object, line: int, where: str) -> Group | None:
        if not isinstance(value, list) or not value:
            self.problem(line, f"{where}: {mode!r} must be a list of conditions.")
            return None
        conditions = []
        for item in value:
            if not isinstance(item, _Lined):
                self.problem(line, f"{where}: a condition must be a mapping, not {item!r}.")
                continue
            condition = self.condition(item, where)
            if condition is not None:
                conditions.append(condition)
        return Group(mode, tuple(conditions)) if len(conditions) == len(value) else None

    def condition(self, item: _Lined, where: str) -> Condition | None:
        kinds = [kind for kind in ("have", "did", "did not", "all", "any") if kind in item]
        if len(kinds) != 1:
            self.problem(
                item.line,
                f"{where}: a condition starts with one of have, did, did not, all or any.",
            )
            return None
        kind = kinds[0]
        if kind in ("all", "any"):
            self.unknown_keys(item, (kind,), where)
            return self.group(kind, item[kind], item.lines[kind], where)
        if kind == "have":
            return self.have(item, where)
        return self.did(item, kind, where)

    def have(self, item: _Lined, where: str) -> Have | None:
        line = item.lines["have"]
        column = item["have"]
        self.unknown_keys(item, ("have", *COMPARISONS), where)
        if not isinstance(column, str) or not column:
            self.problem(line, f"{where}: 'have' names a person column, not {column!r}.")
            return None
        comparisons = [(op, item[op]) for op in COMPARISONS if op in item]
        if not comparisons:
            self.problem(line, f"{where}: 'have: {column}' needs one of {', '.join(COMPARISONS)}.")
            return None
        checked = []
        for operator, value in comparisons:
            value_line = item.lines[operator]
            problem = _comparison_problem(operator, value)
            if problem:
                self.problem(value_line, f"{where}: {operator} {problem}")
            else:
                checked.append((operator, value))
        if len(checked) != len(comparisons):
            return None
        impossible = _impossible(dict(checked))
        if impossible:
            self.problem(line, f"{where}: 'have: {column}' is impossible: {impossible}")
            return None
        return Have(column, tuple(checked), line)

    def did(self, item: _Lined, kind: str, where: str) -> Did | None:
        line = item.lines[kind]
        event_type = item[kind]
        self.unknown_keys(item, (kind, *EVENT_OPTIONS), where)
        if event_type not in TRACKED_EVENTS:
            self.problem(
                line,
                f"{where}: unknown event type {event_type!r}; the tracked events are "
                f"{', '.join(TRACKED_EVENTS)}.",
            )
            return None
        product = self.text(item, "product", where, required=False)
        category = self.text(item, "category", where, required=False)
        at_least = self.number(item, "at_least", where, 1, 1)
        within = item.get("within_days")
        if within is not None:
            within = self.number(item, "within_days", where, 1, 1)
        return Did(str(event_type), kind == "did not", product, category, at_least, within, line)

    # -- activations and the membership API -----------------------------------------------------

    def activation(self, item: _Lined, known: set[str]) -> ActivationDefinition | None:
        name = self.text(item, "name", "an activation")
        where = f"activation {name!r}" if name else "an activation"
        self.unknown_keys(item, ACTIVATION_KEYS, where)
        values = {
            key: self.text(item, key, where)
            for key in ("client_id", "client_secret", "base_url", "segment_group_identifier")
        }
        base_url = values["base_url"]
        if base_url is not None and not HTTP_URL.fullmatch(base_url):
            self.problem(
                item.lines.get("base_url", item.line),
                f"{where}: base_url must be the site's webhook URL (https://site/cdp/webhook), "
                f"not {base_url!r}.",
            )
        authentication = self.text(item, "authentication", where, required=False) or "basic"
        if authentication not in AUTHENTICATIONS:
            self.problem(
                item.lines.get("authentication", item.line),
                f"{where}: authentication is basic or oauth2, not {authentication!r}.",
            )
        audiences = self.names(item, "audiences", where, known)
        signing_secret = self.text(item, "signing_secret", where, required=False)
        snapshot_size = self.number(item, "snapshot_size", where, 10_000, 1)
        gzip_above = self.number(item, "gzip_above", where, 32 * 1024, 0)
        attempts = self.number(item, "attempts", where, 5, 1)
        if name is None or None in values.values():
            return None
        return ActivationDefinition(
            name,
            str(values["client_id"]),
            str(values["client_secret"]),
            str(base_url),
            str(values["segment_group_identifier"]),
            audiences,
            authentication,
            signing_secret,
            snapshot_size,
            gzip_above,
            attempts,
        )

    def membership(self, item: object, line: int, known: set[str]) -> MembershipDefinition | None:
        if not isinstance(item, _Lined):
            self.problem(line, "'membership' must be a mapping.")
            return None
        where = "membership"
        self.unknown_keys(item, MEMBERSHIP_KEYS, where)
        activation_id = self.text(item, "activation_id", where)
        api_key = self.text(item, "api_key", where)
        audiences = self.names(item, "audiences", where, known)
        if activation_id is None or api_key is None:
            return None
        return MembershipDefinition(activation_id, api_key, audiences)


def parse_moment(value: object, now: datetime | None = None) -> datetime | None:
    """A moment from a date, a datetime, ISO 8601 text or ``N days ago``; None if not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        return None
    relative = DAYS_AGO.fullmatch(value.strip())
    if relative:
        return (now or datetime.now(UTC)) - timedelta(days=int(relative.group(1)))
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_scalar(value: object) -> bool:
    return value is not None and isinstance(value, str | int | float | bool | date)


def _comparison_problem(operator: str, value: object) -> str | None:
    if operator == "equals" and not _is_scalar(value):
        return f"needs a value (text, number, boolean or date), not {value!r}."
    if operator == "in":
        if not isinstance(value, list) or not all(_is_scalar(v) for v in value):
            return f"needs a list of values, not {value!r}."
        if not value:
            return "an empty list: no person can match it."
    if operator == "contains" and not isinstance(value, str | int):
        return f"needs text, not {value!r}."
    if operator in ("greater", "less") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        return f"needs a number, not {value!r} (compare dates with before and after)."
    if operator in ("before", "after") and parse_moment(value) is None:
        return f"needs a date ('2026-01-31', '90 days ago'), not {value!r}."
    return None


def _impossible(comparisons: dict[str, Any]) -> str | None:
    if "greater" in comparisons and "less" in comparisons:  # noqa: SIM102 - one rule a block
        if comparisons["greater"] >= comparisons["less"]:
            return f"greater than {comparisons['greater']} and less than {comparisons['less']}."
    if "after" in comparisons and "before" in comparisons:
        after, before = parse_moment(comparisons["after"]), parse_moment(comparisons["before"])
        if after and before and after >= before:
            return f"after {comparisons['after']} and before {comparisons['before']}."
    if "equals" in comparisons and "in" in comparisons:  # noqa: SIM102
        if comparisons["equals"] not in comparisons["in"]:
            return f"equals {comparisons['equals']!r} but in {comparisons['in']!r}."
    return None
