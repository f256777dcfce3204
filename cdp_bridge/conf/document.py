"""The whole configuration: the scopes, merged from their ``system`` blocks, and the global keys.

Each ``system`` block (``default``, a group, a scope, ``global``) is read on its own, so a
problem is reported where it is written; a scope's blocks are then deep-merged (mappings key by
key, lists and single values replace) in the order default < groups < scope < global, as
Ibexa merges SiteAccess settings, and the scope is built from the result.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from cdp_bridge.conf.legacy import modernise
from cdp_bridge.conf.problems import Problem
from cdp_bridge.conf.reader import NO_SETTING, Reader, Refused, declared_fields, strip_invalid
from cdp_bridge.conf.rules import SAME_SETTING_DISAGREES, UNKNOWN_KEY
from cdp_bridge.conf.schema import (
    RESERVED_SYSTEM_NAMES,
    SCOPE_KEYS,
    Activation,
    CdpBridgeSettings,
    RaptorConnectorSettings,
    ScopeDeclaration,
    ScopeSettings,
    SourceSettings,
    frozen_mapping,
)

SCOPE_NAMING = "cdp_bridge.E029"
UNDECLARED_SCOPE = "cdp_bridge.W006"
_MISSING = object()


@dataclass(frozen=True)
class Reading:
    """What reading a configuration gave: the settings, every problem, and the refused items."""

    settings: CdpBridgeSettings
    problems: tuple[Problem, ...]
    refused: tuple[Refused, ...]


def yaml_sections() -> dict[str, str]:
    """The YAML section of each top-level key: ``ibexa``, ``ibexa_cdp`` or ``cdp_bridge``."""
    sections = {key: section for key, (section, _group, _scope) in SCOPE_KEYS.items()}
    for declared in declared_fields(CdpBridgeSettings):
        if declared.setting.section:
            sections[declared.key[0]] = declared.setting.section
    return sections


def read_configuration(raw: Any, prefixes: Mapping[str, str], default_user_model: str) -> Reading:
    """Read and validate a configuration in the native form; ``prefixes`` name YAML sections."""
    reader = Reader(prefixes)
    if not isinstance(raw, Mapping):
        reader.wrong_type(NO_SETTING, ("CDP_BRIDGE",), _("a mapping"), raw)
        raw = {}
    raw = _in_their_sections(raw, prefixes, reader)
    scopes, undeclared = _read_scopes(raw, reader)
    reader.collections["scopes"] = tuple(scopes)
    _check_client_ids(scopes, reader)
    _check_person_identifiers(scopes, reader)
    values = strip_invalid(
        reader.fields(CdpBridgeSettings, raw, (), handled_elsewhere=tuple(SCOPE_KEYS))
    )
    sources = dict(values.get("sources", {}))
    if "user" not in sources:
        default = SourceSettings("user", "user", model=default_user_model)
        sources["user"] = {"user": default}
    values["sources"] = sources
    settings = reader.build(
        CdpBridgeSettings, values, (), given={"scopes": frozen_mapping(scopes)}, lenient=True
    )
    scheduled = {entry.scope for entry in settings.schedule}
    _warn_undeclared([name for name in undeclared if name not in scheduled], list(scopes), reader)
    return Reading(settings, tuple(reader.problems), tuple(reader.refused))


def _in_their_sections(
    raw: Mapping[str, Any], prefixes: Mapping[str, str], reader: Reader
) -> dict[str, Any]:
    """In a YAML file, each top-level key in its own section; one elsewhere is reported."""
    if not prefixes:
        return dict(raw)
    sections = yaml_sections()
    kept = {}
    for key, value in raw.items():
        section = sections.get(key)
        if section is not None and prefixes.get(key) != section:
            reader.report(
                UNKNOWN_KEY,
                (key,),
                _("unknown key here."),
                _("Move it under %(section)s:.") % {"section": section},
            )
        else:
            kept[key] = value
    return kept


def _read_scopes(
    raw: Mapping[str, Any], reader: Reader
) -> tuple[dict[str, ScopeSettings], list[str]]:
    """The scopes, and the names of ``system`` blocks read as scopes that are not declared."""
    declared_type = Mapping[str, ScopeDeclaration]
    declarations: dict[str, ScopeDeclaration] = {}
    written = reader.value(declared_type, NO_SETTING, raw.get("scopes"), ("scopes",))
    for name, declaration in (written if isinstance(written, Mapping) else {}).items():
        if name == "global":
            reader.report(
                SCOPE_NAMING,
                ("scopes", name),
                _("'global' is reserved."),
                _("Choose another scope name."),
            )
        else:
            declarations[name] = declaration
    system = reader.value(Mapping[str, Any], NO_SETTING, raw.get("system"), ("system",))
    if not isinstance(system, Mapping):
        system = {}
    blocks = {
        name: strip_invalid(
            reader.fields(ScopeSettings, _modernised(block, name, reader), ("system", name))
        )
        for name, block in system.items()
    }
    group_names = {group for declaration in declarations.values() for group in declaration.groups}
    scope_names = ["default", *(name for name in declarations if name != "default")]
    undeclared = []
    for name in system:
        if name in group_names and name in declarations:
            reader.report(
                SCOPE_NAMING,
                ("system", name),
                _("is both a scope and a scope group."),
                _("Rename the group."),
            )
        elif name not in (*RESERVED_SYSTEM_NAMES, *group_names, *scope_names):
            scope_names.append(name)  # an Ibexa SiteAccess with no hosts of its own
            undeclared.append(name)
    scopes = {}
    for name in scope_names:
        declaration = declarations.get(name, ScopeDeclaration())
        order = list(dict.fromkeys(("default", *declaration.groups, name, "global")))
        merged: dict[str, Any] = {}
        for block_name in order:
            merged = deep_merge(merged, blocks.get(block_name, {}))
        _fold_connector(merged, [(b, blocks.get(b, {})) for b in order], reader)
        hosts = tuple(host.lower() for host in declaration.hosts)
        scopes[name] = reader.build(
            ScopeSettings,
            merged,
            ("system", name),
            given={"name": name, "hosts": hosts},
            lenient=True,
        )
    return scopes, undeclared


def _warn_undeclared(names: list[str], scopes: list[str], reader: Reader) -> None:
    """A ``system`` block no declared scope takes: a typo, or an Ibexa SiteAccess group.

    It is read as a scope of its own (an Ibexa SiteAccess), which no request belongs to; a
    schedule entry naming it is what makes such a scope in use, so that one is not warned about.
    """
    known = [name for name in scopes if name not in names]
    for name in names:
        if name.endswith("_group"):  # Ibexa's groups: site_group, admin_group
            message = _(
                "is read as a scope named %(name)r, not as a group: no scope takes its settings, "
                "so they apply nowhere."
            ) % {"name": name}
            hint = _(
                "A scope names the groups it takes: scopes: {%(scope)s: {groups: [%(name)s]}} "
                "(in a YAML file under cdp_bridge:), as Ibexa's siteaccess.groups lists them."
            ) % {"scope": known[-1], "name": name}
        else:
            message = _(
                "is read as a scope named %(name)r of its own, which no request belongs to: no "
                "scope of that name is declared."
            ) % {"name": name}
            close = difflib.get_close_matches(name, [*known, *RESERVED_SYSTEM_NAMES], n=1)
            hint = _("Did you mean %(close)r? ") % {"close": close[0]} if close else ""
            hint += _(
                "The scopes are: %(known)s. To keep it as a scope, declare it: scopes: "
                "{%(name)s: {hosts: [...]}}."
            ) % {"known": ", ".join(known), "name": name}
        reader.report(UNDECLARED_SCOPE, ("system", name), message, hint)


def _modernised(block: Any, name: str, reader: Reader) -> Any:
    if isinstance(block, Mapping) and "cdp" in block:
        return {**block, "cdp": modernise(block["cdp"], ("system", name, "cdp"), reader)}
    return block


def _fold_connector(
    merged: dict[str, Any], blocks: list[tuple[str, Mapping[str, Any]]], reader: Reader
) -> None:
    """Ibexa's ``connector_raptor`` keys give the cdp keys they stand for, and agree with them."""
    connector = merged.get("connector_raptor", {})
    for declared in declared_fields(RaptorConnectorSettings):
        same_as = declared.setting.same_as
        if same_as is None or declared.name not in connector:
            continue
        chain = field_names(ScopeSettings, same_as)
        value = connector[declared.name]
        current = _lookup(merged, chain)
        if current is _MISSING:
            _assign(merged, chain, value)
        elif current != value:
            where = [
                name for name, block in blocks if declared.name in block.get("connector_raptor", {})
            ]
            reader.report(
                SAME_SETTING_DISAGREES,
                ("system", where[-1], "connector_raptor", declared.name),
                _("is %(value)s, but %(key)s is %(current)s.")
                % {"value": repr(value), "key": ".".join(same_as), "current": repr(current)},
                _("They are one setting: give them the same value, or keep only one of them."),
            )


def field_names(cls: type[Any], key: tuple[str, ...]) -> tuple[str, ...]:
    """The field names that lead to the key path ``key`` (``("tracking", "enabled")``)."""
    for declared in declared_fields(cls):
        if key[: len(declared.key)] == declared.key:
            rest = key[len(declared.key) :]
            return (declared.name, *(field_names(declared.type, rest) if rest else ()))
    raise LookupError(f"{cls.__name__} has no key {'.'.join(key)}")


def _lookup(values: Mapping[str, Any], chain: tuple[str, ...]) -> Any:
    for name in chain:
        if not isinstance(values, Mapping) or name not in values:
            return _MISSING
        values = values[name]
    return values


def _assign(values: dict[str, Any], chain: tuple[str, ...], value: Any) -> None:
    for name in chain[:-1]:
        values = values.setdefault(name, {})
    values[chain[-1]] = value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge dicts key by key; lists and scalars in ``override`` replace those in ``base``."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_client_ids(scopes: Mapping[str, ScopeSettings], reader: Reader) -> None:
    """A client id names one activation: the webhook finds the activation by it."""
    seen: dict[str, tuple[str, Activation]] = {}
    for scope in scopes.values():
        in_scope: set[str] = set()
        for activation in scope.activations:
            earlier = seen.get(activation.client_id)
            if activation.client_id in in_scope:
                other_scope: str | None = scope.name
            elif earlier and earlier[1] != activation:
                other_scope = earlier[0]
            else:
                other_scope = None
            if other_scope:
                reader.report(
                    "cdp_bridge.E007",
                    (*activation.key_path, "client_id"),
                    _(
                        "the client id %(client_id)s is also used by another activation "
                        "(scope %(scope)s)."
                    )
                    % {"client_id": repr(activation.client_id), "scope": repr(other_scope)},
                    _("Give every activation its own client id."),
                )
            in_scope.add(activation.client_id)
            seen.setdefault(activation.client_id, (scope.name, activation))


def _check_person_identifiers(scopes: Mapping[str, ScopeSettings], reader: Reader) -> None:
    """A scope's activations match members on one field: the user export's id column."""
    for scope in scopes.values():
        fields = [activation.person_identifier_field for activation in scope.activations]
        for activation in scope.activations[1:]:
            field = activation.person_identifier_field
            if field != fields[0]:
                reader.report(
                    "cdp_bridge.E021",
                    (*activation.key_path, "person_identifier_field"),
                    _(
                        "matches members on %(field)s, but the scope's first activation on "
                        "%(first)s."
                    )
                    % {
                        "field": field or _("the primary key"),
                        "first": fields[0] or _("the primary key"),
                    },
                    _(
                        "The user export's id column and the tracked user id hold one field: "
                        "give the activations of a scope the same person_identifier_field."
                    ),
                )
