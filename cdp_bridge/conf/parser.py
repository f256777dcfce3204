"""Reads the raw CDP_BRIDGE mapping into CdpBridgeSettings, collecting every problem.

Each ``system`` block (``default``, a group, a scope, ``global``) is validated on its own, so a
problem is reported at the exact key path where it is written; the validated blocks are then
deep-merged per scope (dicts key by key, lists and scalars replace) in the order
default < groups < scope < global.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from cdp_bridge.conf.placeholders import PlaceholderError, resolve
from cdp_bridge.conf.schema import (
    DEFAULT_TRACKING_PARAMETERS,
    EXPORT_KINDS,
    PROCESSOR_KINDS,
    TRANSPORTS,
    USER_ID_MODES,
    WEBHOOK_QUEUES,
    Activation,
    CdpBridgeSettings,
    MembershipSettings,
    ProcessorReference,
    ScheduleEntry,
    ScopeSettings,
    SourceSettings,
    StreamSettings,
    TrackingSettings,
    WebhookSettings,
    frozen_mapping,
)

TOP_LEVEL_KEYS = (
    "scopes",
    "system",
    "bulk_async_threshold",
    "data_export",
    "sources",
    "webhook",
    "processors",
)
DATA_EXPORT_KEYS = tuple(f"{kind}_data" for kind in EXPORT_KINDS)

RESERVED_SYSTEM_NAMES = ("default", "global")
MIN_CLIENT_SECRET_LENGTH = 16
EXAMPLE_CLIENT_SECRETS = frozenset({"abcdef", "123456"})
STREAM_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{8}-[0-9a-fA-F]{8}-[0-9a-fA-F]{8}"  # Raptor's form
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # a UUID
)
TRACKING_PARAMETER = re.compile(r"p[1-9][0-9]{0,2}")  # Raptor: p1 to p999
CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

HTTP_URL = re.compile(r"https?://[^\s/?#]+(/\S*)?")

KeyPath = tuple[str | int, ...]


class _Invalid:
    """A value that was reported as a problem and must be left out."""


INVALID = _Invalid()


STREAM_ID_HINT = (
    "Copy the stream id from the CDP's Data Manager (Stream file): four groups of eight "
    "hexadecimal digits, or a UUID."
)


def is_valid_stream_id(value: str) -> bool:
    """Whether ``value`` is a stream id: Raptor's ``8-8-8-8`` hex form, or a UUID."""
    return STREAM_ID.fullmatch(value) is not None


def cron_problem(interval: str) -> tuple[str, str] | None:
    """Why a crontab interval cannot be scheduled, as ``(check id, message)``; None if it can."""
    fields = interval.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0] in CRON_MACROS)):
        return "cdp_bridge.E005", f"{interval!r} is not a five-field crontab interval."
    if not croniter.is_valid(interval):
        return "cdp_bridge.E005", f"{interval!r} is not a valid crontab interval."
    try:
        croniter(interval, datetime(2026, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError):
        return "cdp_bridge.E006", f"{interval!r} never fires (no such date exists)."
    return None


def render_key_path(path: KeyPath, prefixes: Mapping[str, str]) -> str:
    """``system.shop.cdp.activations[0].client_id``, under its YAML section when it has one."""
    text = ""
    for index, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{part}]"
        elif index == 0:
            prefix = prefixes.get(part)
            text = f"{prefix}.{part}" if prefix else part
        else:
            text += f".{part}"
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, reported by a system check with ``check_id``.

    ``schedule_entry`` is ``(kind, index)`` when the problem lies inside one schedule entry:
    it refuses that entry only, and the rest of the configuration stays usable.
    """

    check_id: str
    path: str
    message: str
    hint: str
    schedule_entry: tuple[str, int] | None = None

    @property
    def is_error(self) -> bool:
        return self.check_id.startswith("cdp_bridge.E")

    def __str__(self) -> str:
        return f"{self.path}: {self.message} {self.hint}".rstrip()


class ConfigParser:
    """Validates and normalises one raw configuration; see ``parse()``."""

    def __init__(self, prefixes: Mapping[str, str], default_user_model: str) -> None:
        self.prefixes = prefixes
        self.default_user_model = default_user_model
        self.problems: list[Problem] = []

    # -- reporting -------------------------------------------------------------------------

    def report(self, check_id: str, path: KeyPath, message: str, hint: str) -> _Invalid:
        entry = None
        if path[:2] == ("data_export", "schedule") and len(path) > 3:
            kind, index = path[2], path[3]
            if isinstance(kind, str) and isinstance(index, int):
                entry = (kind, index)
        rendered = render_key_path(path, self.prefixes)
        self.problems.append(Problem(check_id, rendered, message, hint, entry))
        return INVALID

    def invalid(self, path: KeyPath, message: str, hint: str) -> _Invalid:
        return self.report("cdp_bridge.E002", path, message, hint)

    # -- primitives: each returns the value, or INVALID after reporting it -------------------

    def resolved(self, value: Any, path: KeyPath) -> object:
        if isinstance(value, str) and "%env(" in value:
            try:
                return resolve(value)
            except PlaceholderError as error:
                return self.report(error.check_id, path, str(error), error.hint)
        return value

    def mapping(self, value: Any, path: KeyPath, allowed: Collection[str]) -> dict[str, Any]:
        """The known keys of a mapping; each unknown key is reported (a typo, usually)."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.invalid(
                path, f"must be a mapping, not {_describe(value)}.", "Use key: value pairs."
            )
            return {}
        known: dict[str, Any] = {}
        for key, item in value.items():
            if key in allowed:
                known[key] = item
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(allowed)}."
            self.report("cdp_bridge.E001", (*path, str(key)), "unknown key.", hint)
        return known

    def string(self, value: Any, path: KeyPath, *, allow_empty: bool = False) -> str | _Invalid:
        resolved = self.resolved(value, path)
        if isinstance(resolved, _Invalid):
            return resolved
        if isinstance(resolved, int) and not isinstance(resolved, bool):
            resolved = str(resolved)
        if not isinstance(resolved, str):
            return self.invalid(path, f"must be a string, not {_describe(resolved)}.", "Quote it.")
        if not allow_empty and not resolved.strip():
            return self.invalid(path, "must not be empty.", "Give it a value or remove the key.")
        return resolved

    def http_url(self, value: Any, path: KeyPath) -> str | _Invalid:
        text = self.string(value, path)
        if isinstance(text, str) and not HTTP_URL.fullmatch(text):
            return self.invalid(
                path, f"{text!r} is not an http(s) URL.", "Write it as https://host[:port]."
            )
        return text

    def optional_string(self, value: Any, path: KeyPath) -> str | _Invalid | None:
        return None if value is None else self.string(value, path)

    def integer(self, value: Any, path: KeyPath, *, minimum: int = 1) -> int | _Invalid:
        resolved = self.resolved(value, path)
        if isinstance(resolved, _Invalid):
            return resolved
        if isinstance(resolved, str) and resolved.strip().isdigit():
            resolved = int(resolved)
        if not isinstance(resolved, int) or isinstance(resolved, bool):
            return self.invalid(path, f"must be a whole number, not {_describe(resolved)}.", "")
        if resolved < minimum:
            return self.invalid(path, f"must be at least {minimum}, not {resolved}.", "")
        return resolved

    def number(self, value: Any, path: KeyPath) -> float | _Invalid:
        resolved = self.resolved(value, path)
        if isinstance(resolved, _Invalid):
            return resolved
        if isinstance(resolved, bool) or not isinstance(resolved, int | float) or resolved <= 0:
            return self.invalid(path, f"must be a positive number, not {_describe(resolved)}.", "")
        return float(resolved)

    def boolean(self, value: Any, path: KeyPath) -> bool | _Invalid:
        resolved = self.resolved(value, path)
        if isinstance(resolved, _Invalid | bool):
            return resolved
        return self.invalid(path, f"must be true or false, not {_describe(resolved)}.", "")

    def choice(self, value: Any, path: KeyPath, choices: Collection[str]) -> str | _Invalid:
        text = self.string(value, path)
        if text is INVALID or text in choices:
            return text
        return self.invalid(path, f"{text!r} is not one of {', '.join(choices)}.", "")

    def string_list(self, value: Any, path: KeyPath) -> tuple[str, ...] | _Invalid:
        """A list of strings; a single string counts as a list of one."""
        if isinstance(value, str):
            single = self.string(value, path)
            return single if single is INVALID else (single,)  # type: ignore[return-value]
        if not isinstance(value, list | tuple):
            return self.invalid(path, f"must be a list of strings, not {_describe(value)}.", "")
        items = [self.string(item, (*path, index)) for index, item in enumerate(value)]
        if any(item is INVALID for item in items):
            return INVALID
        return tuple(items)  # type: ignore[arg-type]

    def fields(
        self, value: Any, path: KeyPath, readers: Mapping[str, Callable[[Any, KeyPath], Any]]
    ) -> dict[str, Any]:
        """Read a mapping whose keys each have a reader; keep the values that are valid."""
        result: dict[str, Any] = {}
        for key, item in self.mapping(value, path, tuple(readers)).items():
            read = readers[key](item, (*path, key))
            if read is not INVALID:
                result[key] = read
        return result

    # -- the per-scope ``cdp`` block ----------------------------------------------------------

    def cdp_block(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.fields(
            value,
            path,
            {
                "account_number": self.account_number,
                "stream_base_url": self.http_url,
                "data_export": self.data_export,
                "activations": self.activations,
                "tracking": self.tracking,
                "membership": self.membership,
            },
        )

    def account_number(self, value: Any, path: KeyPath) -> int | _Invalid:
        resolved = self.resolved(value, path)
        if isinstance(resolved, _Invalid):
            return resolved
        text = str(resolved).strip() if not isinstance(resolved, bool) else ""
        if not text.isdigit():
            return self.report(
                "cdp_bridge.E003",
                path,
                f"the account number must be numeric, not {resolved!r}.",
                "Copy it from the account list in the CDP dashboard (top right corner).",
            )
        return int(text)

    def data_export(self, value: Any, path: KeyPath) -> dict[str, Any]:
        readers = dict.fromkeys(DATA_EXPORT_KEYS, self.stream)
        return self.fields(value, path, readers)

    def stream(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.fields(
            value,
            path,
            {
                "transport": lambda v, p: self.choice(v, p, TRANSPORTS),
                "stream_file": lambda v, p: self.fields(
                    v,
                    p,
                    {
                        "stream_id": self.stream_id,
                        "connect_timeout": self.number,
                        "read_timeout": self.number,
                        "retry_budget": self.number,
                        "max_retry_after": self.number,
                    },
                ),
                "file": lambda v, p: self.fields(v, p, {"directory": self.string}),
                "batch_size": self.integer,
                "max_batch_bytes": lambda v, p: self.integer(v, p, minimum=1024),
            },
        )

    def stream_id(self, value: Any, path: KeyPath) -> str | _Invalid | None:
        text = self.optional_string(value, path)
        if not isinstance(text, str) or is_valid_stream_id(text):
            return text
        return self.report(
            "cdp_bridge.E004",
            path,
            "the stream id is malformed.",
            STREAM_ID_HINT,
        )

    def activations(self, value: Any, path: KeyPath) -> tuple[Activation, ...] | _Invalid:
        if not isinstance(value, list | tuple):
            return self.invalid(path, f"must be a list, not {_describe(value)}.", "")
        read = (self.activation(item, (*path, index)) for index, item in enumerate(value))
        return tuple(activation for activation in read if isinstance(activation, Activation))

    def activation(self, value: Any, path: KeyPath) -> Activation | _Invalid:
        item = self.fields(
            value,
            path,
            {
                "client_id": self.string,
                "client_secret": self.client_secrets,
                "segment_group_identifier": self.string,
                "person_identifier_field": self.optional_string,
                "signing_secret": self.optional_string,
                "require_signature": self.boolean,
            },
        )
        if not isinstance(value, Mapping):
            return INVALID
        required = ("client_id", "client_secret", "segment_group_identifier")
        for key in required:
            if key not in value:
                self.invalid(
                    (*path, key),
                    "is required.",
                    "Every activation needs client_id, client_secret and segment_group_identifier.",
                )
        if item.get("require_signature") and not item.get("signing_secret"):
            self.invalid(
                (*path, "signing_secret"),
                "is required when require_signature is true.",
                "Set the secret the CDP signs requests with.",
            )
            return INVALID
        if any(key not in item for key in required):
            return INVALID
        return Activation(
            client_id=item["client_id"],
            client_secrets=item["client_secret"],
            segment_group_identifier=item["segment_group_identifier"],
            person_identifier_field=item.get("person_identifier_field"),
            signing_secret=item.get("signing_secret"),
            require_signature=item.get("require_signature", False),
        )

    def client_secrets(self, value: Any, path: KeyPath) -> tuple[str, ...] | _Invalid:
        """One secret, or a list of them (every one is accepted: rotation without downtime)."""
        listed = isinstance(value, list | tuple)
        secrets = self.string_list(value, path)
        if secrets is INVALID:
            return INVALID
        assert isinstance(secrets, tuple)
        if not secrets:
            return self.invalid(path, "must name at least one secret.", "")
        weak = False
        for index, secret in enumerate(secrets):
            where = (*path, index) if listed else path
            if secret in EXAMPLE_CLIENT_SECRETS:
                weak = True
                self.report(
                    "cdp_bridge.E009",
                    where,
                    "the client secret is an example value.",
                    "Generate a random secret, e.g. python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'.",
                )
            elif len(secret) < MIN_CLIENT_SECRET_LENGTH:
                weak = True
                self.report(
                    "cdp_bridge.E008",
                    where,
                    f"the client secret is shorter than {MIN_CLIENT_SECRET_LENGTH} characters.",
                    "Use a random secret of at least 32 characters.",
                )
        return INVALID if weak else secrets

    def tracking(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.fields(
            value,
            path,
            {
                "enabled": self.boolean,
                "consent_required": self.boolean,
                "user_id": lambda v, p: self.choice(v, p, USER_ID_MODES),
                "script_url": self.string,
                "server_url": self.http_url,
                "cookie_name": self.string,
                "parameters": self.tracking_parameters,
            },
        )

    def tracking_parameters(self, value: Any, path: KeyPath) -> dict[str, str]:
        """Which Raptor parameter carries which value: ``{price: p12}``; unknown names are typos."""
        readers = dict.fromkeys(DEFAULT_TRACKING_PARAMETERS, self.tracking_parameter)
        return self.fields(value, path, readers)

    def tracking_parameter(self, value: Any, path: KeyPath) -> str | _Invalid:
        text = self.string(value, path)
        if not isinstance(text, str) or TRACKING_PARAMETER.fullmatch(text):
            return text
        return self.invalid(
            path,
            f"{text!r} is not a Raptor tracking parameter.",
            "Write p1 to p999, as listed in your account's tracking documentation.",
        )

    def membership(self, value: Any, path: KeyPath) -> dict[str, Any]:
        return self.fields(
            value,
            path,
            {
                "base_url": self.http_url,
                "timeout": self.number,
                "activation_id": self.string,
                "api_key": self.string,
                "cache_ttl": lambda v, p: self.integer(v, p, minimum=0),
            },
        )

    # -- global keys ------------------------------------------------------------------------

    def schedule(
        self, value: Any, path: KeyPath, scope_names: Collection[str]
    ) -> list[ScheduleEntry]:
        entries: list[ScheduleEntry] = []
        for kind, items in self.mapping(value, path, EXPORT_KINDS).items():
            if not isinstance(items, list | tuple):
                self.invalid((*path, kind), f"must be a list, not {_describe(items)}.", "")
                continue
            for index, raw in enumerate(items):
                entry_path = (*path, kind, index)
                reported = len(self.problems)
                item = self.fields(
                    raw,
                    entry_path,
                    {
                        "interval": self.interval,
                        "options": lambda v, p: self.string(v, p, allow_empty=True),
                        "scope": self.string,
                    },
                )
                if "interval" not in item:
                    if not (isinstance(raw, Mapping) and "interval" in raw):
                        self.invalid(
                            (*entry_path, "interval"),
                            "is required.",
                            "Give a crontab interval such as '*/15 * * * *'.",
                        )
                    continue
                scope = item.get("scope", "default")
                if scope not in scope_names:
                    self.report(
                        "cdp_bridge.E014",
                        (*entry_path, "scope"),
                        f"the scope {scope!r} does not exist.",
                        f"Use one of: {', '.join(sorted(scope_names))}.",
                    )
                    continue
                if any(problem.is_error for problem in self.problems[reported:]):
                    continue  # refused alone (a typo in a key): the schedule shows why
                entries.append(
                    ScheduleEntry(kind, index, item["interval"], item.get("options", ""), scope)
                )
        return entries

    def interval(self, value: Any, path: KeyPath) -> str | _Invalid:
        text = self.string(value, path)
        if not isinstance(text, str):
            return text
        problem = cron_problem(text)
        if problem is None:
            return text
        check_id, message = problem
        hint = (
            "Pick a date that exists, e.g. '0 0 28 2 *' for the 28th of February."
            if check_id == "cdp_bridge.E006"
            else "Use five crontab fields: minute hour day-of-month month day-of-week, "
            "e.g. '*/15 * * * *'."
        )
        return self.report(check_id, path, message, hint)

    def sources(self, value: Any, path: KeyPath) -> dict[str, dict[str, SourceSettings]]:
        sources: dict[str, dict[str, SourceSettings]] = {}
        for kind, named in self.mapping(value, path, EXPORT_KINDS).items():
            if not isinstance(named, Mapping):
                self.invalid(
                    (*path, kind), f"must be a mapping of sources, not {_describe(named)}.", ""
                )
                continue
            sources[kind] = {}
            for name, raw in named.items():
                source = self.source(kind, str(name), raw, (*path, kind, str(name)))
                if source is not INVALID:
                    sources[kind][str(name)] = source  # type: ignore[assignment]
        if "user" not in sources:
            sources["user"] = {
                "user": SourceSettings("user", "user", model=self.default_user_model)
            }
        return sources

    def source(self, kind: str, name: str, value: Any, path: KeyPath) -> SourceSettings | _Invalid:
        readers: dict[str, Callable[[Any, KeyPath], Any]] = {
            "model": self.model_label,
            "queryset": self.string,
            "filter": lambda v, p: dict(self.mapping(v, p, _AnyKey())),
            "fields": self.string_list,
            "exclude": self.string_list,
            "name_field": self.string,
            "language_field": self.string,
            "modified_field": self.string,
        }
        if kind == "product":
            readers["code_field"] = self.string
        item = self.fields(value, path, readers)
        if "model" not in item and "queryset" not in item:
            if not (isinstance(value, Mapping) and ("model" in value or "queryset" in value)):
                self.invalid(
                    path, "needs a model or a queryset.", "Add model: 'app_label.ModelName'."
                )
            return INVALID
        if "filter" in item:
            item["filter"] = frozen_mapping(item["filter"])
        return SourceSettings(kind=kind, name=name, **item)

    def model_label(self, value: Any, path: KeyPath) -> str | _Invalid:
        text = self.string(value, path)
        if isinstance(text, str) and text.count(".") != 1:
            return self.invalid(
                path,
                f"{text!r} is not a model label.",
                "Write it as 'app_label.ModelName', e.g. 'auth.User'.",
            )
        return text

    def processors(self, value: Any, path: KeyPath) -> dict[str, tuple[ProcessorReference, ...]]:
        result: dict[str, tuple[ProcessorReference, ...]] = {}
        for kind, items in self.mapping(value, path, PROCESSOR_KINDS).items():
            if not isinstance(items, list | tuple):
                self.invalid((*path, kind), f"must be a list, not {_describe(items)}.", "")
                continue
            references = []
            for index, item in enumerate(items):
                item_path = (*path, kind, index)
                if isinstance(item, str):
                    item = {"path": item}
                read = self.fields(
                    item,
                    item_path,
                    {
                        "path": self.string,
                        "priority": lambda v, p: self.integer(v, p, minimum=-(2**31)),
                    },
                )
                if "path" in read:
                    references.append(ProcessorReference(read["path"], read.get("priority", 0)))
                elif isinstance(item, Mapping) and "path" not in item:
                    self.invalid(
                        (*item_path, "path"), "is required.", "Give the processor's dotted path."
                    )
            result[kind] = tuple(references)
        return result

    def webhook(self, value: Any, path: KeyPath) -> WebhookSettings:
        return WebhookSettings(
            **self.fields(
                value,
                path,
                {
                    "max_body_bytes": lambda v, p: self.integer(v, p, minimum=1024),
                    "token_ttl": lambda v, p: self.integer(v, p, minimum=60),
                    "signature_tolerance": self.integer,
                    "queue": lambda v, p: self.choice(v, p, WEBHOOK_QUEUES),
                },
            )
        )

    # -- the whole ------------------------------------------------------------------------------

    def parse(self, raw: Mapping[str, Any]) -> CdpBridgeSettings:
        top = self.mapping(raw, (), TOP_LEVEL_KEYS) if raw else {}
        declarations = self.scope_declarations(top.get("scopes"))
        system = self.mapping(top.get("system"), ("system",), _AnyKey())
        group_names = {group for _, groups in declarations.values() for group in groups}
        scope_names = ["default", *declarations]
        for name in system:
            if name in group_names and name in declarations:
                self.invalid(
                    ("system", name), "is both a scope and a scope group.", "Rename the group."
                )
            elif name not in (*RESERVED_SYSTEM_NAMES, *group_names, *scope_names):
                scope_names.append(name)  # an Ibexa SiteAccess with no hosts of its own

        blocks = {
            name: self.fields(block, ("system", name), {"cdp": self.cdp_block}).get("cdp", {})
            for name, block in system.items()
        }
        scopes = {
            name: self.scope(name, declarations.get(name, ((), ())), blocks) for name in scope_names
        }
        self.check_client_ids(scopes)
        self.check_person_identifiers(scopes)

        data_export = self.fields(
            top.get("data_export"),
            ("data_export",),
            {
                "schedule": lambda v, p: self.schedule(v, p, scopes),
            },
        )
        threshold = self.integer(top.get("bulk_async_threshold", 100), ("bulk_async_threshold",))
        sources = self.sources(top.get("sources"), ("sources",))
        return CdpBridgeSettings(
            scopes=frozen_mapping(scopes),
            bulk_async_threshold=threshold if isinstance(threshold, int) else 100,
            schedule=tuple(data_export.get("schedule", ())),
            sources=frozen_mapping(
                {kind: frozen_mapping(named) for kind, named in sources.items()}
            ),
            processors=frozen_mapping(self.processors(top.get("processors"), ("processors",))),
            webhook=self.webhook(top.get("webhook"), ("webhook",)),
        )

    def scope_declarations(self, value: Any) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        declarations: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for name, raw in self.mapping(value, ("scopes",), _AnyKey()).items():
            path: KeyPath = ("scopes", name)
            if name in RESERVED_SYSTEM_NAMES and name != "default":
                self.invalid(path, f"{name!r} is reserved.", "Choose another scope name.")
                continue
            item = self.fields(raw, path, {"hosts": self.string_list, "groups": self.string_list})
            hosts = tuple(host.lower() for host in item.get("hosts", ()))
            declarations[name] = (hosts, tuple(item.get("groups", ())))
        return declarations

    def scope(
        self,
        name: str,
        declaration: tuple[tuple[str, ...], tuple[str, ...]],
        blocks: Mapping[str, dict[str, Any]],
    ) -> ScopeSettings:
        hosts, groups = declaration
        merged: dict[str, Any] = {}
        for block_name in dict.fromkeys(("default", *groups, name, "global")):
            merged = deep_merge(merged, blocks.get(block_name, {}))
        path: KeyPath = ("system", name, "cdp")
        data_export: dict[str, StreamSettings] = {}
        for key, stream in merged.get("data_export", {}).items():
            kind = key.removesuffix("_data")
            data_export[kind] = self.stream_settings(stream, (*path, "data_export", key))
        tracking = merged.get("tracking", {})
        return ScopeSettings(
            name=name,
            hosts=hosts,
            groups=groups,
            account_number=merged.get("account_number"),
            stream_base_url=merged.get("stream_base_url", ScopeSettings.stream_base_url),
            data_export=frozen_mapping(data_export),
            activations=merged.get("activations", ()),
            tracking=TrackingSettings(
                **tracking | {"parameters": frozen_mapping(tracking.get("parameters"))}
            ),
            membership=MembershipSettings(**merged.get("membership", {})),
        )

    def stream_settings(self, stream: Mapping[str, Any], path: KeyPath) -> StreamSettings:
        transport = stream.get("transport", "stream_file")
        directory = stream.get("file", {}).get("directory")
        if transport == "file" and not directory:
            self.invalid(
                (*path, "file", "directory"),
                "is required by the file transport.",
                "Name the directory the batches are written to.",
            )
        return StreamSettings(
            transport=transport,
            directory=Path(directory) if directory else None,
            **stream.get("stream_file", {}),
            **{key: stream[key] for key in ("batch_size", "max_batch_bytes") if key in stream},
        )

    def check_person_identifiers(self, scopes: Mapping[str, ScopeSettings]) -> None:
        """A scope's activations match members on one field: the user export's id column."""
        for scope in scopes.values():
            fields = [activation.person_identifier_field for activation in scope.activations]
            for index, field in enumerate(fields[1:], start=1):
                if field != fields[0]:
                    self.report(
                        "cdp_bridge.E021",
                        (
                            "system",
                            scope.name,
                            "cdp",
                            "activations",
                            index,
                            "person_identifier_field",
                        ),
                        f"matches members on {field or 'the primary key'}, but activation 0 "
                        f"on {fields[0] or 'the primary key'}.",
                        "The user export's id column and the tracked user id hold one field: "
                        "give the activations of a scope the same person_identifier_field.",
                    )

    def check_client_ids(self, scopes: Mapping[str, ScopeSettings]) -> None:
        """A client id names one activation: the webhook finds the activation by it."""
        seen: dict[str, tuple[str, Activation]] = {}
        for scope in scopes.values():
            in_scope: set[str] = set()
            for index, activation in enumerate(scope.activations):
                path: KeyPath = ("system", scope.name, "cdp", "activations", index, "client_id")
                earlier = seen.get(activation.client_id)
                if activation.client_id in in_scope:
                    other_scope: str | None = scope.name
                elif earlier and earlier[1] != activation:
                    other_scope = earlier[0]
                else:
                    other_scope = None
                if other_scope:
                    self.report(
                        "cdp_bridge.E007",
                        path,
                        f"the client id {activation.client_id!r} is also used by another "
                        f"activation (scope {other_scope!r}).",
                        "Give every activation its own client id.",
                    )
                in_scope.add(activation.client_id)
                seen.setdefault(activation.client_id, (scope.name, activation))


class _AnyKey(Collection[str]):
    """Allows every key: for mappings whose keys are names the user chooses."""

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge dicts key by key; lists and scalars in ``override`` replace those in ``base``."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return f"a {type(value).__name__}"
    return f"{type(value).__name__} {value!r}"
