"""The export's three extension points (Ibexa's three service tags) and their registry.

* **User item processors** (``ibexa.cdp.export.user.item_processor``) change a user's row:
  ``process(row, user) -> row``. Every one runs, each on the row the one before returned;
  ``BaseUserItemProcessor`` has the shape of Ibexa's ``AbstractUserItemProcessor``.
* **Field processors** (``ibexa.cdp.export.content.field_processor``) decide whether and how a
  model field is exported: ``supports(field, obj)`` and ``process(field, obj) -> keys`` (an
  empty mapping drops the field). The first that supports a field decides. The built-in ``skip``
  drops fields by name or type, as Ibexa's ``SkippingFieldProcessor`` does.
* **Field value processors** (``ibexa.cdp.export.content.field_value_processor``) render a
  field's value: ``supports(field, obj)`` and ``process(field, obj) -> keys``; the first that
  supports a field renders it.

A processor is registered by dotted path in ``CDP_BRIDGE["processors"]`` (read at the start of
each run) or with a decorator when its module is imported. Higher priorities come first; ties
keep registration order (settings first). The built-in field and field value processors sit at
-100, as Ibexa's system processors do: a processor above -100 comes before them, and one at or
below -100 never runs, since the built-ins support every field.

Any processor may also define ``prepare_queryset(queryset) -> queryset`` to fetch what it needs
with the rows (``select_related("profile")``) instead of with a query per row.
"""

from __future__ import annotations

import difflib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Field, Model, QuerySet
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from cdp_bridge.conf.kinds import PROCESSOR_KINDS
from cdp_bridge.conf.problems import render_key_path
from cdp_bridge.exceptions import ExportError
from cdp_bridge.field_types import FieldTypes

if TYPE_CHECKING:
    from cdp_bridge.conf.schema import ProcessorReference

Scalar = str | int | float | bool | Decimal | None
Row = dict[str, Scalar]
# What the export calls on a processor of each kind: each method, with the arguments it passes.
REQUIRED_METHODS = {
    "user_item": {"process": ("row", "user")},
    "field": {"supports": ("field", "obj"), "process": ("field", "obj")},
    "field_value": {"supports": ("field", "obj"), "process": ("field", "obj")},
}
CANNOT_IMPORT = "cdp_bridge.E015"
NOT_A_PROCESSOR = "cdp_bridge.E038"
SCALAR_TYPES = (str, int, float, bool, Decimal, type(None))
# Ibexa's system field and field value processors are tagged with this priority.
BUILTIN_PRIORITY = -100

T = TypeVar("T")


class UserItemProcessor(Protocol):
    """Adds to, or changes, the row of one user."""

    def process(self, row: Row, user: Any) -> Row: ...


class FieldProcessor(Protocol):
    """Decides whether, and as which keys, a field is exported."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool: ...

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]: ...


class FieldValueProcessor(Protocol):
    """Renders the value of a field as keys: ``value``, and any others (``label`` ...)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool: ...

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]: ...


@dataclass(frozen=True)
class Registration:
    """A processor with its priority; ``where`` names it in error messages and checks."""

    processor: Any
    priority: int
    where: tuple[str | int, ...]


_registered: dict[str, list[Registration]] = {kind: [] for kind in PROCESSOR_KINDS}


def _registrar(kind: str, priority: int) -> Callable[[T], T]:
    def register(target: T) -> T:
        processor = target() if isinstance(target, type) else target
        problem = _shape_problem(processor, kind)
        if problem:
            raise TypeError(f"{target!r} cannot be a {kind} processor: {problem}.")
        label = repr(processor) if isinstance(processor, TypeRule) else processor_name(target)
        where = (f"{kind}_processor(priority={priority})({label})",)
        _registered[kind].append(Registration(processor, priority, where))
        return target

    return register


def user_item_processor(*, priority: int = 0) -> Callable[[T], T]:
    """Register a user item processor (a class, instantiated without arguments, or an object)."""
    return _registrar("user_item", priority)


def field_processor(*, priority: int = 0) -> Callable[[T], T]:
    """Register a field processor: ``field_processor(priority=100)(skip("internal_notes"))``."""
    return _registrar("field", priority)


def field_value_processor(*, priority: int = 0) -> Callable[[T], T]:
    """Register a field value processor (a class, instantiated without arguments, or an object)."""
    return _registrar("field_value", priority)


def registered_processors(kind: str) -> list[Any]:
    """The processors of one kind that run, from settings and decorators, highest first.

    Field and field value processors at -100 or below are left out: the built-ins, which come
    after them and support every field, would always be asked first. A skip or JSON hash rule
    naming a field or type that does not exist stops the run here, before a row is read.
    """
    from cdp_bridge.conf import cdp_settings

    written = cdp_settings().processors.get(kind, ())
    ranked = sorted(registrations(kind, written), key=lambda entry: -entry.priority)  # stable
    if kind != "user_item":
        ranked = [entry for entry in ranked if entry.priority > BUILTIN_PRIORITY]
    for entry in ranked:
        for problem in rule_problems(entry):
            where = render_key_path(problem.where, {})
            raise ExportError(
                _("%(where)s: %(message)s %(hint)s Run manage.py check.")
                % {"where": where, "message": problem.message, "hint": problem.hint}
            )
    return [entry.processor for entry in ranked]


def registrations(kind: str, written: Sequence[ProcessorReference]) -> list[Registration]:
    """The processors of one kind in registration order: those ``written`` in settings, then
    those registered with decorators."""
    entries = [
        from_settings(reference, ("processors", kind, index), kind)
        for index, reference in enumerate(written)
    ]
    return entries + _registered[kind]


def from_settings(
    reference: ProcessorReference, where: tuple[str | int, ...], kind: str
) -> Registration:
    """The processor a settings entry names: a skip rule, or a dotted path."""
    if reference.path is None:  # the reader lets an entry be a path or a skip rule, never neither
        assert reference.skip is not None
        rule = SkipFields(*reference.skip.fields, types=reference.skip.types)
        return Registration(rule, reference.priority, (*where, "skip"))
    processor = load_processor(reference.path, kind, render_key_path(where, {}))
    return Registration(processor, reference.priority, where)


class ProcessorPathError(ExportError):
    """A processor's dotted path names no usable processor; ``check_id`` says which rule."""

    def __init__(self, message: str, hint: str, check_id: str) -> None:
        super().__init__(message)
        self.hint = hint
        self.check_id = check_id


def load_processor(path: str, kind: str, where: str) -> Any:
    """Import a processor named by dotted path; a class is instantiated without arguments."""
    try:
        return processor_at(path, kind)
    except ProcessorPathError as error:
        raise ExportError(
            f"{where}: {error} {error.hint} "
            + _("manage.py check reports it as %(id)s.") % {"id": error.check_id}
        ) from error


def processor_at(path: str, kind: str) -> Any:
    """The processor a dotted path names, as the export calls it; ProcessorPathError if none.

    ``manage.py check`` asks this of every path in settings, so that an export never starts
    with a processor it cannot use.
    """
    try:
        target = import_string(path)
    except ImportError as error:
        raise ProcessorPathError(
            _("the processor %(path)s cannot be imported (%(error)s).")
            % {"path": repr(path), "error": error},
            _("Fix the dotted path (module.ClassName)."),
            CANNOT_IMPORT,
        ) from error
    shape = _("an object with %(methods)s, or a class of them that takes no arguments") % {
        "methods": _calls(kind)
    }
    try:
        processor = target() if isinstance(target, type) else target
    except Exception as error:  # an abstract class, a constructor that needs arguments
        raise ProcessorPathError(
            _("%(path)s cannot be created without arguments (%(type)s: %(error)s).")
            % {"path": repr(path), "type": type(error).__name__, "error": error},
            _("Name %(shape)s.") % {"shape": shape},
            NOT_A_PROCESSOR,
        ) from error
    problem = _shape_problem(processor, kind)
    if problem:
        raise ProcessorPathError(
            _("%(path)r is not a %(kind)s processor: %(problem)s.")
            % {"path": path, "kind": kind, "problem": problem},
            _("Name %(shape)s.") % {"shape": shape},
            NOT_A_PROCESSOR,
        )
    return processor


def _calls(kind: str) -> str:
    """``process(row, user)``: what the export calls on a processor of ``kind``."""
    return _(" and ").join(
        f"{name}({', '.join(arguments)})" for name, arguments in REQUIRED_METHODS[kind].items()
    )


def _shape_problem(processor: Any, kind: str) -> str | None:
    """What keeps ``processor`` from being called as the export calls a ``kind`` processor."""
    methods = REQUIRED_METHODS[kind]
    missing = [name for name in methods if not callable(getattr(processor, name, None))]
    if missing:
        return _("it has no %(methods)s") % {"methods": " or ".join(f"{m}()" for m in missing)}
    for name, arguments in methods.items():
        try:
            inspect.signature(getattr(processor, name)).bind(*arguments)
        except TypeError:
            call = f"{name}({', '.join(arguments)})"
            return _("its %(method)s() cannot be called as %(call)s") % {
                "method": name,
                "call": call,
            }
        except ValueError:  # a callable without a signature (a builtin): it may be right
            continue
    return None


def require_scalars(values: Mapping[str, Any], producer: Any, where: str) -> None:
    """Refuse values the CDP cannot store (Raptor: String, Boolean, Number, DateTime, Null)."""
    if not isinstance(values, Mapping):
        raise ExportError(
            _(
                "%(where)s: %(processor)s returned %(type)s, not a mapping of column names to "
                "values."
            )
            % {"where": where, "processor": processor_name(producer), "type": type(values).__name__}
        )
    for key, value in values.items():
        if not isinstance(value, SCALAR_TYPES) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ExportError(
                _(
                    "%(where)s: %(processor)s returned %(value)s for %(key)s, which is not a "
                    "scalar. Return a string, number, boolean or None (dates as ISO 8601 text)."
                )
                % {
                    "where": where,
                    "processor": processor_name(producer),
                    "value": repr(value),
                    "key": repr(key),
                }
            )


def processor_name(processor: Any) -> str:
    """``module.Class`` of a processor, for error messages."""
    kind = processor if isinstance(processor, type) else type(processor)
    return f"{kind.__module__}.{kind.__qualname__}"


# -- rules: skip, and the JSON hash value processor ------------------------------------------


@dataclass(frozen=True)
class RuleProblem:
    """A field name or type a rule names that does not exist, and where it is written."""

    where: tuple[str | int, ...]
    check_id: str
    message: str
    hint: str


def rule_problems(entry: Registration) -> list[RuleProblem]:
    """What is wrong with the fields and types a skip or JSON hash processor names.

    A skip rule written in settings is reported at the key of the name (``skip.types[1]``);
    a rule built in Python, by its ``repr()`` at the entry that registers it.
    """
    processor = entry.processor
    if not isinstance(processor, TypeRule):
        return []
    written = entry.where[-1] == "skip"
    found = [
        ("types", p.index, "cdp_bridge.E050", p.message, p.hint) for p in processor.types.problems()
    ]
    if isinstance(processor, SkipFields):
        found += [("fields", *problem) for problem in processor.field_problems()]
    return [
        RuleProblem(
            (*entry.where, key, index) if written else entry.where,
            check_id,
            message if written else f"{processor!r}: {message}",
            hint,
        )
        for key, index, check_id, message, hint in found
    ]


class TypeRule:
    """A processor that applies to fields of some types (``types``): skip, JSON hash."""

    types: FieldTypes


class SkipFields(TypeRule):
    """A field processor that drops fields, by name and by type: see ``skip()``."""

    def __init__(self, *fields: str, types: Iterable[str | type[Field[Any, Any]]] = ()) -> None:
        self.fields = fields
        self.names = frozenset(name for name in fields if "." not in name)
        self.qualified = frozenset(
            f"{label.lower()}.{name}"
            for label, name in (entry.rsplit(".", 1) for entry in fields if "." in entry)
        )
        self.types = FieldTypes(types)

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return (
            field.name in self.names
            or f"{field.model._meta.label_lower}.{field.name}" in self.qualified
            or self.types.matches(field)
        )

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        return {}

    def field_problems(self) -> list[tuple[int, str, str, str]]:
        """The names that no installed model has, as ``(index, check id, message, hint)``."""
        everywhere = {
            field.name for model in apps.get_models() for field in model._meta.get_fields()
        }
        problems: list[tuple[int, str, str, str]] = []
        for index, written in enumerate(self.fields):
            label, _dot, name = written.rpartition(".")
            if not label:
                if name not in everywhere:
                    close = difflib.get_close_matches(name, sorted(everywhere), n=1)
                    problems.append(
                        (
                            index,
                            "cdp_bridge.E051",
                            _("no model has a field %(field)s, so nothing is skipped.")
                            % {"field": repr(name)},
                            _("Did you mean %(key)s?") % {"key": repr(close[0])}
                            if close
                            else _("Check the spelling."),
                        )
                    )
                continue
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                problems.append(
                    (
                        index,
                        "cdp_bridge.E051",
                        _("the model %(model)s does not exist.") % {"model": repr(label)},
                        _("Write app_label.ModelName.field, e.g. shop.Product.cost_price."),
                    )
                )
                continue
            own = [field.name for field in model._meta.get_fields()]
            if name not in own:
                problems.append(
                    (
                        index,
                        "cdp_bridge.E051",
                        _("%(model)s has no field %(field)s.")
                        % {"model": model._meta.label, "field": repr(name)},
                        _("Use one of: %(names)s.") % {"names": ", ".join(own)},
                    )
                )
        return problems

    def __repr__(self) -> str:
        written = [repr(name) for name in self.fields]
        if self.types:
            written.append(f"types={self.types!r}")
        return f"skip({', '.join(written)})"


def skip(*fields: str, types: Iterable[str | type[Field[Any, Any]]] = ()) -> SkipFields:
    """The built-in ``skip`` field processor: never export these fields.

    A plain name (``"internal_notes"``) drops the field of that name in every model;
    ``"shop.Product.cost_price"`` drops one model's field. ``types`` drops every field of a type,
    as Ibexa's ``SkippingFieldProcessor($fieldTypeIdentifier)`` does: an internal type
    (``"JSONField"``), a field class name (``"EmailField"``), a field class or its dotted path.
    """
    return SkipFields(*fields, types=types)


# -- a base class for user item processors ported from Ibexa ---------------------------------


class BaseUserItemProcessor(ABC):
    """A user item processor in the shape of Ibexa's ``AbstractUserItemProcessor``.

    Implement ``do_process(row, user)`` (Ibexa's ``doProcess($processedItemData,
    $userContent)``) and return the row with your additions. Ibexa hands the processor the
    user's *content item*, whose user account field ``getUserField()`` finds (null when the item
    is not a user); Django hands it the user account itself, and the extra facts Ibexa keeps in
    the content item's fields are the user's own fields or a one-to-one profile's. Name that
    relation in ``profile_field``: ``get_profile(user)`` returns it, None when the user has none,
    and the profiles are read with the rows.
    """

    profile_field: ClassVar[str | None] = None

    def prepare_queryset(self, users: QuerySet[Any]) -> QuerySet[Any]:
        return users.select_related(self.profile_field) if self.profile_field else users

    def process(self, row: Row, user: Any) -> Row:
        return self.do_process(row, user)

    @abstractmethod
    def do_process(self, row: Row, user: Any) -> Row:
        """The row of ``user`` with this processor's keys added or changed."""

    def get_profile(self, user: Any) -> Any:
        """The user's ``profile_field`` object, or None when the user has none."""
        if not self.profile_field:
            raise TypeError(f"{type(self).__qualname__}.profile_field is not set.")
        try:
            return getattr(user, self.profile_field)
        except ObjectDoesNotExist:
            return None
