"""The one reader: validates raw configuration against the settings classes of ``conf.schema``.

It walks a class's fields (their types, defaults and ``setting()`` metadata), reports every
problem at the key path where it is written, and returns what is valid:

* ``fields()`` reads a mapping into the values of its fields (by field name), nested settings
  objects as mappings of their own, so that ``system`` blocks can be merged before anything is
  built; a value that was written but is invalid is kept as ``INVALID``;
* ``build()`` makes the settings object from such values, with the defaults, checking the
  required keys and the class's rules;
* an element of a list, or of a mapping whose keys the user names (an activation, a source, a
  schedule entry), is built where it is read: it is left out when anything in it is wrong, and
  kept in ``refused`` with where it was written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.conf.placeholders import (
    FALSE_WORDS,
    TRUE_WORDS,
    PlaceholderError,
    resolve,
    typed_placeholder,
)
from cdp_bridge.conf.problems import KeyPath, Located, Problem, render_key_path
from cdp_bridge.conf.rules import (
    BELOW_MINIMUM,
    EMPTY,
    NOT_A_CHOICE,
    NOT_FINITE,
    REQUIRED,
    UNKNOWN_KEY,
)
from cdp_bridge.conf.schema import frozen_mapping
from cdp_bridge.conf.spec import SETTING, Setting
from cdp_bridge.redaction import mask_secret

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


class _Invalid:
    """A value that was reported as a problem: left out, and nothing more said about it."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
NO_SETTING = Setting(doc="")
SECRET_PERCENT_HINT = gettext_lazy(
    "A secret is best taken from the environment, %env(NAME)%, which is never read for percent "
    "signs; written in the configuration, each of its percent signs is written %%."
)


@dataclass(frozen=True)
class Declared:
    """One field of a settings class, as the reader sees it."""

    name: str
    type: Any
    setting: Setting
    key: tuple[str, ...]
    required: bool
    default: Any

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


@dataclass(frozen=True)
class Refused:
    """An item left out because something in it is wrong: its class, key path and raw value."""

    cls: type[Any]
    path: KeyPath
    raw: Any


_DECLARED: dict[type[Any], tuple[Declared, ...]] = {}


def declared_fields(cls: type[Any]) -> tuple[Declared, ...]:
    """The fields of a settings class with their resolved types and settings."""
    if cls not in _DECLARED:
        _DECLARED[cls] = _declare(cls)
    return _DECLARED[cls]


def _declare(cls: type[Any]) -> tuple[Declared, ...]:
    hints = typing.get_type_hints(cls)
    declared = []
    for item in dataclasses.fields(cls):
        setting = item.metadata.get(SETTING, NO_SETTING)
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory
        else:
            default = dataclasses.MISSING
        declared.append(
            Declared(
                name=item.name,
                type=hints[item.name],
                setting=setting,
                key=setting.key or (item.name,),
                required=default is dataclasses.MISSING and setting.read,
                default=default,
            )
        )
    return tuple(declared)


def key_tree(cls: type[Any], kind: str | None = None) -> dict[str, Any]:
    """The keys a settings class is written with: each a Declared field, or a nested section.

    ``kind`` leaves out the keys of other kinds of items (``code_field`` is for products).
    """
    tree: dict[str, Any] = {}
    for declared in declared_fields(cls):
        only_for = declared.setting.only_for_kinds
        if not declared.setting.read or (only_for and kind not in only_for):
            continue
        node = tree
        for part in declared.key[:-1]:
            node = node.setdefault(part, {})
        node[declared.key[-1]] = declared
    return tree


def without_none(tp: Any) -> tuple[Any, bool]:
    """``X | None`` as ``(X, True)``; any other type as ``(type, False)``."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def is_settings_class(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def describe(value: Any) -> str:
    """A value for a message: ``str '12ab'``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return _("a %(type)s") % {"type": type(value).__name__}
    return f"{type(value).__name__} {value!r}"


def strip_invalid(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the invalid ones, at any depth (before merging ``system`` blocks)."""
    return {
        name: strip_invalid(value) if isinstance(value, Mapping) else value
        for name, value in values.items()
        if value is not INVALID
    }


def contains_invalid(value: Any) -> bool:
    if value is INVALID:
        return True
    return isinstance(value, Mapping) and any(contains_invalid(item) for item in value.values())


class Reader:
    """Reads raw configuration into settings objects, collecting every problem."""

    def __init__(
        self,
        prefixes: Mapping[str, str],
        collections: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.prefixes = prefixes
        self.collections = dict(collections or {})
        self.problems: list[Problem] = []
        self.refused: list[Refused] = []

    # -- reporting ---------------------------------------------------------------------------

    def report(
        self, check_id: str, path: KeyPath, message: str, hint: str | StrPromise = ""
    ) -> Any:
        """Record a problem (once, however many scopes inherit it) and return INVALID.

        A hint declared at import time (``gettext_lazy``) is translated here, as the message is.
        """
        rendered = render_key_path(path, self.prefixes)
        problem = Problem(check_id, rendered, str(message), str(hint), path)
        if problem not in self.problems:
            self.problems.append(problem)
        return INVALID

    def error_count(self) -> int:
        return sum(problem.is_error for problem in self.problems)

    def unknown_key(self, path: KeyPath, known: Collection[str]) -> None:
        """Report the last key of ``path`` as unknown, suggesting the key that was meant."""
        close = difflib.get_close_matches(str(path[-1]), list(known), n=1)
        hint = (
            _("Did you mean %(key)s?") % {"key": repr(close[0])}
            if close
            else _("Known keys: %(keys)s.") % {"keys": ", ".join(known)}
        )
        self.report(UNKNOWN_KEY, path, _("unknown key."), hint)

    def wrong_type(self, setting: Setting, path: KeyPath, expected: str, value: Any) -> Any:
        """Report a value of the wrong type; ``expected`` is translated (``a mapping``)."""
        message = _("must be %(expected)s, not %(value)s.") % {
            "expected": expected,
            "value": describe(value),
        }
        return self.report(setting.wrong_type, path, message, setting.hint)

    # -- a settings class ----------------------------------------------------------------------

    def fields(
        self,
        cls: type[Any],
        raw: Any,
        path: KeyPath,
        *,
        handled_elsewhere: Collection[str] = (),
    ) -> dict[str, Any]:
        """The values written for ``cls``'s fields, by field name (see the module docstring).

        ``handled_elsewhere`` are keys of this mapping that another reader reads.
        """
        if isinstance(raw, Located):
            raw, path = raw.value, raw.path
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.wrong_type(NO_SETTING, path, _("a mapping"), raw)
            return {}
        values: dict[str, Any] = {}
        tree = key_tree(cls, self._kind_of(cls, path))
        self._walk(tree, raw, path, values, handled_elsewhere)
        return values

    def _walk(
        self,
        tree: Mapping[str, Any],
        raw: Mapping[Any, Any],
        path: KeyPath,
        values: dict[str, Any],
        handled_elsewhere: Collection[str] = (),
    ) -> None:
        for key, item in raw.items():
            key_path = (*path, str(key))
            node = tree.get(key)
            if key in handled_elsewhere:
                continue
            if node is None:
                self.unknown_key(key_path, [*tree, *handled_elsewhere])
            elif isinstance(node, Declared):
                value = self.value(node.type, node.setting, item, key_path)
                if value is not None:  # null is a key not written: it keeps its default
                    values[node.name] = value
            elif item is None:
                continue
            elif isinstance(item, Mapping):
                self._walk(node, item, key_path, values)
            else:
                self.wrong_type(NO_SETTING, key_path, _("a mapping"), item)

    def _kind_of(self, cls: type[Any], path: KeyPath) -> Any:
        for declared in declared_fields(cls):
            position = declared.setting.from_path
            if declared.name == "kind" and position is not None and len(path) >= -position:
                return path[position]
        return None

    def build(
        self,
        cls: type[Any],
        values: Mapping[str, Any],
        path: KeyPath,
        given: Mapping[str, Any] | None = None,
        *,
        lenient: bool = False,
    ) -> Any:
        """Make a ``cls`` from values read by ``fields()``; INVALID if any is invalid.

        ``given`` holds the values of fields that are not read (``read=False``), unless the
        field takes them from the key path. ``lenient`` builds the object even when a problem
        was found, with the defaults in place of what is wrong: a merged scope is reported
        where its problems are and still read, so that the checks can look at the rest.
        """
        arguments: dict[str, Any] = {}
        complete = {
            declared.name: declared.default_value()
            for declared in declared_fields(cls)
            if declared.default is not dataclasses.MISSING
        } | dict(values)
        invalid = False
        for declared in declared_fields(cls):
            setting = declared.setting
            key_path = (*path, *declared.key)
            if not setting.read:
                if setting.whole_path:
                    arguments[declared.name] = path
                elif setting.from_path is not None:
                    arguments[declared.name] = path[setting.from_path]
                elif given and declared.name in given:
                    arguments[declared.name] = given[declared.name]
                continue
            if declared.name not in values:
                when = setting.required_when
                if declared.required:
                    required = [d.key[-1] for d in declared_fields(cls) if d.required]
                    self.report(
                        REQUIRED,
                        key_path,
                        _("is required."),
                        _("Required here: %(keys)s.") % {"keys": ", ".join(required)},
                    )
                    invalid = True
                elif when and complete.get(when[0]) == when[1]:
                    message = _("is required when %(key)s is %(value)s.") % {
                        "key": when[0],
                        "value": _literal(when[1]),
                    }
                    self.report(REQUIRED, key_path, message)
                    invalid = True
                continue
            value = values[declared.name]
            if contains_invalid(value):
                invalid = True
                continue
            if declared.required and value == ():
                self.report(EMPTY, key_path, _("must name at least one."))
                invalid = True
                continue
            arguments[declared.name] = self._built(declared, value, key_path, lenient)
            invalid = invalid or contains_invalid(arguments[declared.name])
        for rule in getattr(cls, "RULES", ()):
            broken = rule.problem(complete)
            if broken:
                name, message = broken
                where = next(d for d in declared_fields(cls) if d.name == name)
                self.report(rule.check_id, (*path, *where.key), message, rule.hint)
                invalid = invalid or rule.check_id.startswith("cdp_bridge.E")
        return INVALID if invalid and not lenient else cls(**arguments)

    def _built(self, declared: Declared, value: Any, path: KeyPath, lenient: bool) -> Any:
        """A field's value as its settings object: nested mappings built, mappings frozen."""
        tp, _optional = without_none(declared.type)
        if is_settings_class(tp) and isinstance(value, Mapping):
            return self.build(tp, value, path, lenient=lenient)
        if typing.get_origin(tp) is Mapping:
            setting = declared.setting
            return self._built_mapping(typing.get_args(tp)[1], setting, value, path, lenient)
        return value

    def _built_mapping(
        self, value_type: Any, setting: Setting, value: Any, path: KeyPath, lenient: bool
    ) -> Any:
        if not isinstance(value, Mapping):
            return value
        written = {stored: key for key, stored in (setting.keys or {}).items()}
        built = {}
        for name, item in value.items():
            item_path: KeyPath = (*path, str(written.get(name, name)))
            inner, _optional = without_none(value_type)
            if is_settings_class(inner) and isinstance(item, Mapping):
                built[name] = self.build(inner, item, item_path, lenient=lenient)
            elif typing.get_origin(inner) is Mapping:
                inner_type = typing.get_args(inner)[1]
                built[name] = self._built_mapping(inner_type, NO_SETTING, item, item_path, lenient)
            else:
                built[name] = item
        return frozen_mapping(built)

    def item(self, cls: type[Any], raw: Any, path: KeyPath) -> Any:
        """An element of a list or of a named mapping, built at once; INVALID if anything is off."""
        if isinstance(raw, Located):
            raw, path = raw.value, raw.path
        shorthand = getattr(cls, "SHORTHAND", None)
        if shorthand and isinstance(raw, str):
            raw = {shorthand: raw}
        if raw is None:  # ``shop: ~``, an item with none of its keys written
            raw = {}
        errors = self.error_count()
        values = self.fields(cls, raw, path)
        built = self.build(cls, values, path) if isinstance(raw, Mapping) else INVALID
        if built is INVALID or self.error_count() > errors:
            self.refused.append(Refused(cls, path, raw))
            return INVALID
        return built

    # -- values --------------------------------------------------------------------------------

    def value(self, tp: Any, setting: Setting, raw: Any, path: KeyPath) -> Any:
        """One value of type ``tp`` written at ``path``; INVALID after reporting a problem.

        None when the value is null (YAML's ``~``, or a placeholder that falls back to null):
        as in Ibexa, a key set to null is a key not set, so it keeps its default (and, in a
        ``system`` block, the value of the blocks merged before it).
        """
        if isinstance(raw, Located):
            raw, path = raw.value, raw.path
        if raw is None:
            return None
        inner, _ = without_none(tp)
        if is_settings_class(inner):
            values = self.fields(inner, raw, path)
            return values if isinstance(raw, Mapping) else INVALID
        origin = typing.get_origin(inner)
        if origin is tuple:
            return self.sequence(typing.get_args(inner)[0], setting, raw, path)
        if origin is Mapping:
            return self.mapping(typing.get_args(inner)[1], setting, raw, path)
        return self.scalar(inner, setting, raw, path)

    def sequence(self, item_type: Any, setting: Setting, raw: Any, path: KeyPath) -> Any:
        """A tuple of settings objects (each built), or of strings (a string is a list of one)."""
        if is_settings_class(item_type):
            if not isinstance(raw, list | tuple):
                return self.wrong_type(setting, path, _("a list"), raw)
            built = (
                self.item(item_type, element, (*path, index)) for index, element in enumerate(raw)
            )
            return tuple(element for element in built if element is not INVALID)
        if isinstance(raw, str):
            single = self.scalar(item_type, setting, raw, path)
            return single if single is INVALID or single is None else (single,)
        if not isinstance(raw, list | tuple):
            return self.wrong_type(setting, path, _("a list of strings"), raw)
        items = tuple(
            self.scalar(item_type, setting, element, (*path, index), element_of_list=True)
            for index, element in enumerate(raw)
        )
        if INVALID in items:
            return INVALID
        return items

    def mapping(self, value_type: Any, setting: Setting, raw: Any, path: KeyPath) -> Any:
        """A mapping: of declared keys (``setting.keys``) or of names the user chooses."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            return self.wrong_type(setting, path, _("a mapping"), raw)
        inner, _optional = without_none(value_type)
        result: dict[str, Any] = {}
        for key, item in raw.items():
            item_path = (*path, str(key))
            if setting.keys is not None and key not in setting.keys:
                self.unknown_key(item_path, list(setting.keys))
                continue
            name = setting.keys[key] if setting.keys is not None else str(key)
            if inner is Any:
                result[name] = item  # a value in itself: a filter on null is a filter
            elif is_settings_class(inner) and setting.keys is None:
                built = self.item(inner, item, item_path)
                if built is not INVALID:
                    result[name] = built
            elif typing.get_origin(inner) is Mapping:
                result[name] = self.mapping(typing.get_args(inner)[1], NO_SETTING, item, item_path)
            else:
                value = self.value(value_type, setting, item, item_path)
                if value is not None:  # null is not written, as at a key
                    result[name] = value
        return result

    def scalar(
        self, tp: Any, setting: Setting, raw: Any, path: KeyPath, *, element_of_list: bool = False
    ) -> Any:
        """A string, number, boolean, path or choice, after its placeholders; then its rules.

        None when a placeholder gives null (the key is then not written); a null element of a
        list is wrong.
        """
        value = raw
        if isinstance(raw, str):
            try:
                value = resolve(raw)
            except PlaceholderError as error:
                written = raw.strip()
                meant = written == error.shown or written.startswith("%env(")
                if setting.secret and error.shown and not meant:  # a secret that holds a %
                    message = str(error)
                    for shown in (error.shown, error.shown.strip("%")):  # a %name% and its name
                        message = message.replace(shown, mask_secret(shown))
                    return self.report(error.check_id, path, message, SECRET_PERCENT_HINT)
                return self.report(error.check_id, path, str(error), error.hint)
        if value is None and not element_of_list:
            return None
        if typing.get_origin(tp) is Literal:
            value = self._choice(typing.get_args(tp), setting, value, path)
        elif (
            tp in (bool, int, float)
            and isinstance(value, str)
            and (value != raw or _is_written_as(tp, value))
        ):
            return self._text_for(tp, setting, raw, value, path)
        elif tp is bool:
            if not isinstance(value, bool):
                return self.wrong_type(setting, path, _("true or false"), value)
        elif tp is int:
            value = self._whole_number(setting, value, path)
        elif tp is float:
            value = self._number(setting, value, path)
        elif tp in (str, Path):
            value = self._text(setting, value, path)
            if value is not INVALID and tp is Path:
                return Path(value).expanduser()
        if value is INVALID:
            return INVALID
        for rule in setting.rules:
            problem = rule.problem(value)
            if problem:
                return self.report(rule.check_id, path, problem, rule.hint)
        ref = setting.refers_to
        if ref and value not in self.collections.get(ref[0], ()):
            # Only scopes are referred to (a schedule entry's scope).
            known = ", ".join(sorted(self.collections.get(ref[0], ())))
            return self.report(
                ref[1],
                path,
                _("the scope %(name)s does not exist.") % {"name": repr(value)},
                _("Use one of: %(names)s.") % {"names": known},
            )
        return value

    def _choice(self, choices: tuple[Any, ...], setting: Setting, value: Any, path: KeyPath) -> Any:
        if not isinstance(value, str):
            expected = _("one of %(choices)s") % {"choices": ", ".join(choices)}
            return self.wrong_type(setting, path, expected, value)
        if value not in choices:
            message = _("%(value)s is not one of %(choices)s.") % {
                "value": repr(value),
                "choices": ", ".join(choices),
            }
            return self.report(NOT_A_CHOICE, path, message, setting.hint)
        return value

    def _whole_number(self, setting: Setting, value: Any, path: KeyPath) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return self._not_finite(setting, value, path)
        if not isinstance(value, int) or isinstance(value, bool):
            return self.wrong_type(setting, path, _("a whole number"), value)
        return self._at_least(setting, value, path)

    def _number(self, setting: Setting, value: Any, path: KeyPath) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.wrong_type(setting, path, _("a number"), value)
        if not math.isfinite(value):
            return self._not_finite(setting, value, path)
        return self._at_least(setting, float(value), path)

    def _not_finite(self, setting: Setting, value: float, path: KeyPath) -> Any:
        return self.report(
            NOT_FINITE,
            path,
            _("must be a finite number, not %(value)s.") % {"value": value},
            _("Write a number such as 30: not-a-number (.nan) and infinity (.inf) are not values.")
            + (f" {setting.hint}" if setting.hint else ""),
        )

    def _text_for(self, tp: Any, setting: Setting, raw: str, text: str, path: KeyPath) -> Any:
        """A number or boolean written as text, quoted or from a placeholder: refused, with how.

        In YAML a quoted ``'30'`` is text, and in Symfony so is ``%env(NAME)%``: an integer
        setting needs ``30`` or ``%env(int:NAME)%``, as Symfony's own configuration does.
        """
        processor, expected = {
            int: ("int", _("a whole number")),
            float: ("float", _("a number")),
            bool: ("bool", _("true or false")),
        }[tp]
        typed = typed_placeholder(raw, processor)
        if typed:
            hint = _("%(placeholder)s gives text: write %(typed)s.") % {
                "placeholder": raw.strip(),
                "typed": typed,
            }
        elif text != raw:  # placeholders within text: the value is not shown, it may be a secret
            hint = _(
                "Text with placeholders in it is text: take the whole value from one "
                "environment variable with %(placeholder)s."
            ) % {"placeholder": f"%env({processor}:NAME)%"}
        else:
            example = text.strip()
            if tp is bool:
                example = "true" if example.lower() in TRUE_WORDS else "false"
            hint = _(
                "A quoted value is text: write it unquoted (%(example)s), or take it from the "
                "environment with %(placeholder)s."
            ) % {"example": example, "placeholder": f"%env({processor}:NAME)%"}
        if text == raw:
            message = _("must be %(expected)s, not text (%(text)r).") % {
                "expected": expected,
                "text": text,
            }
        else:  # from the environment: not shown, it may be a secret
            message = _("must be %(expected)s, not text.") % {"expected": expected}
        return self.report(setting.wrong_type, path, message, f"{hint} {setting.hint}".strip())

    def _at_least(self, setting: Setting, value: float, path: KeyPath) -> Any:
        minimum = setting.minimum
        if minimum is None:
            return value
        if value < minimum or (setting.exclusive_minimum and value == minimum):
            numbers = {"minimum": f"{minimum:g}", "value": f"{value:g}"}
            message = (
                _("must be more than %(minimum)s, not %(value)s.")
                if setting.exclusive_minimum
                else _("must be at least %(minimum)s, not %(value)s.")
            )
            return self.report(BELOW_MINIMUM, path, message % numbers, setting.hint)
        return value

    def _text(self, setting: Setting, value: Any, path: KeyPath) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return self.wrong_type(setting, path, _("a string"), value)
        if not value.strip() and not setting.allow_empty:
            return self.report(
                EMPTY, path, _("must not be empty."), _("Give it a value or remove the key.")
            )
        return value


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _is_written_as(tp: Any, text: str) -> bool:
    """Whether ``text`` is a value of ``tp`` that lost its type to quotes (``'30'``, ``'true'``)."""
    text = text.strip()
    if tp is bool:
        return text.lower() in TRUE_WORDS | FALSE_WORDS
    try:
        number = tp(text)
    except ValueError:
        return False
    return math.isfinite(number)
