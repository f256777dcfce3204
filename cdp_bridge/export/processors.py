"""The export's three extension points (Ibexa's three service tags) and their registry.

* **User item processors** change a user's row: ``process(row, user) -> row``.
* **Field processors** decide whether and how a model field is exported:
  ``supports(field, obj)`` and ``process(field, obj) -> columns`` (an empty mapping drops the
  field). The built-in ``skip()`` drops fields everywhere; the built-in default exports the
  field's type and the keys of its field value processor.
* **Field value processors** render a field's value: ``supports(field, obj)`` and
  ``process(field, obj) -> keys``.

Keys returned by field and field value processors are prefixed ``field_<name>_`` for them.
A processor is registered by dotted path in ``CDP_BRIDGE["processors"]`` (read at the start of
each run) or with a decorator when its module is imported; higher priorities run first, ties in
registration order (settings first). The built-ins run after every registered processor.

Any processor may also define ``prepare_queryset(queryset) -> queryset`` to fetch what it needs
with the rows (``select_related("profile")``) instead of with a query per row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from django.db.models import Field, Model
from django.utils.module_loading import import_string

from cdp_bridge.conf.kinds import PROCESSOR_KINDS
from cdp_bridge.exceptions import ExportError

Scalar = str | int | float | bool | Decimal | None
Row = dict[str, Scalar]
REQUIRED_METHODS = {
    "user_item": ("process",),
    "field": ("supports", "process"),
    "field_value": ("supports", "process"),
}
SCALAR_TYPES = (str, int, float, bool, Decimal, type(None))

T = TypeVar("T")


class UserItemProcessor(Protocol):
    """Adds to, or changes, the row of one user."""

    def process(self, row: Row, user: Any) -> Row: ...


class FieldProcessor(Protocol):
    """Decides whether, and as which columns, a field is exported."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool: ...

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]: ...


class FieldValueProcessor(Protocol):
    """Renders the value of a field as scalar keys (``value``, ``value_label`` ...)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool: ...

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]: ...


@dataclass(frozen=True)
class Registration:
    processor: Any
    priority: int


_registered: dict[str, list[Registration]] = {kind: [] for kind in PROCESSOR_KINDS}


def _registrar(kind: str, priority: int) -> Callable[[T], T]:
    def register(target: T) -> T:
        processor = target() if isinstance(target, type) else target
        missing = _missing_methods(processor, kind)
        if missing:
            raise TypeError(f"{target!r} cannot be a {kind} processor: it has no {missing}().")
        _registered[kind].append(Registration(processor, priority))
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
    """The processors of one kind from settings and decorators, the highest priority first."""
    from cdp_bridge.conf import cdp_settings

    entries = [
        (reference.priority, load_processor(reference.path, kind, f"processors.{kind}[{index}]"))
        for index, reference in enumerate(cdp_settings().processors.get(kind, ()))
    ]
    entries += [(entry.priority, entry.processor) for entry in _registered[kind]]
    entries.sort(key=lambda entry: -entry[0])  # stable: ties keep registration order
    return [processor for _, processor in entries]


def load_processor(path: str, kind: str, where: str) -> Any:
    """Import a processor named by dotted path; a class is instantiated without arguments."""
    try:
        target = import_string(path)
    except ImportError as error:
        raise ExportError(
            f"{where}: the processor {path!r} cannot be imported ({error}). "
            "Fix the dotted path; manage.py check reports it as cdp_bridge.E015."
        ) from error
    processor = target() if isinstance(target, type) else target
    missing = _missing_methods(processor, kind)
    if missing:
        raise ExportError(f"{where}: {path!r} is not a {kind} processor: it has no {missing}().")
    return processor


def _missing_methods(processor: Any, kind: str) -> str | None:
    missing = [
        name for name in REQUIRED_METHODS[kind] if not callable(getattr(processor, name, None))
    ]
    return " or ".join(missing) or None


def require_scalars(values: Mapping[str, Any], producer: Any, where: str) -> None:
    """Refuse values the CDP cannot store (Raptor: String, Boolean, Number, DateTime, Null)."""
    if not isinstance(values, Mapping):
        raise ExportError(
            f"{where}: {processor_name(producer)} returned {type(values).__name__}, not a "
            "mapping of column names to values."
        )
    for key, value in values.items():
        if not isinstance(value, SCALAR_TYPES) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ExportError(
                f"{where}: {processor_name(producer)} returned {value!r} for {key!r}, which is "
                "not a scalar. Return a string, number, boolean or None (dates as ISO 8601 text)."
            )


def processor_name(processor: Any) -> str:
    """``module.Class`` of a processor, for error messages."""
    kind = processor if isinstance(processor, type) else type(processor)
    return f"{kind.__module__}.{kind.__qualname__}"


class SkipFields:
    """A field processor that drops fields from every source: see ``skip()``."""

    def __init__(self, *fields: str) -> None:
        self.names = frozenset(name for name in fields if "." not in name)
        self.qualified = frozenset(
            f"{label.lower()}.{name}"
            for label, name in (entry.rsplit(".", 1) for entry in fields if "." in entry)
        )

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return field.name in self.names or (
            f"{field.model._meta.label_lower}.{field.name}" in self.qualified
        )

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        return {}


def skip(*fields: str) -> SkipFields:
    """The built-in ``skip`` field processor: never export these fields.

    A plain name (``"internal_notes"``) drops the field of that name in every model;
    ``"shop.Product.cost_price"`` drops one model's field.
    """
    return SkipFields(*fields)
