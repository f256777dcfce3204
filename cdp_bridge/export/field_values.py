"""The built-in field value processors: how each kind of Django field is rendered for the CDP.

The CDP stores scalars only (Raptor: String, Boolean, Number, DateTime ISO 8601, Null), so every
value is rendered as one: a renderer per internal type for plain values, and processors of their
own for choices and relations. They run after every registered field value processor.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Field, Model
from django.db.models.fields.files import FieldFile

from cdp_bridge.export.processors import FieldValueProcessor, Scalar
from cdp_bridge.field_types import INTEGER_FIELD_TYPES

Renderer = Callable[["Field[Any, Any]", Any], Scalar]


def render_text(field: Field[Any, Any], value: Any) -> Scalar:
    return str(value)


def render_integer(field: Field[Any, Any], value: Any) -> Scalar:
    return int(value)


def render_float(field: Field[Any, Any], value: Any) -> Scalar:
    # JSON has no NaN or infinity: the CDP gets null rather than a body it cannot parse.
    return float(value) if math.isfinite(value) else None


def render_decimal(field: Field[Any, Any], value: Any) -> Scalar:
    # Kept a Decimal: the batch encoder writes it as a JSON number with its own digits.
    number: Decimal = field.to_python(value)  # an unsaved object may hold the text "1.50"
    return number if number.is_finite() else None


def render_boolean(field: Field[Any, Any], value: Any) -> Scalar:
    return bool(value)


def render_temporal(field: Field[Any, Any], value: date | time) -> Scalar:
    """ISO 8601; an aware datetime in UTC with ``Z``, as Raptor's DateTime type expects."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def render_json(field: Field[Any, Any], value: Any) -> Scalar:
    encoder = getattr(field, "encoder", None)
    return json.dumps(value, cls=encoder, separators=(",", ":"), ensure_ascii=False)


def render_file(field: Field[Any, Any], value: FieldFile) -> Scalar:
    return value.url if value else None


# Keyed by ``get_internal_type()``, so custom fields are rendered as the type they declare.
# EmailField and URLField declare "CharField", ImageField "FileField".
RENDERERS: Mapping[str, Renderer] = {
    **dict.fromkeys(("CharField", "TextField", "UUIDField", "SlugField"), render_text),
    **dict.fromkeys(INTEGER_FIELD_TYPES, render_integer),
    "FloatField": render_float,
    "DecimalField": render_decimal,
    "BooleanField": render_boolean,
    **dict.fromkeys(("DateField", "DateTimeField", "TimeField"), render_temporal),
    "JSONField": render_json,
    "FileField": render_file,
}


def render_value(field: Field[Any, Any], value: Any) -> Scalar:
    """One field value as a scalar, by the field's internal type; ``str()`` for anything else."""
    if value is None:
        return None
    return RENDERERS.get(field.get_internal_type(), render_text)(field, value)


class ChoiceValue:
    """A field with ``choices``: its value, and the label people see (``value_label``)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.choices) and not field.is_relation

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        value = field.value_from_object(obj)
        label = None if value is None else str(getattr(obj, f"get_{field.name}_display")())
        return {"value": render_value(field, value), "value_label": label}


class RelatedObjectValue:
    """A ForeignKey or OneToOneField: the related object's id and its ``str()``."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.many_to_one or field.one_to_one)

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        related_id = getattr(obj, field.attname)
        if related_id is None:
            return {"value_id": None, "value_name": None}
        target: Field[Any, Any] = field.target_field  # type: ignore[attr-defined]
        return {
            "value_id": render_value(target, related_id),
            "value_name": str(getattr(obj, field.name)),
        }


class ManyRelatedValues:
    """A ManyToManyField: ids and names joined with ``", "`` (the CDP has no lists)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.many_to_many)

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        related = list(getattr(obj, field.name).all())  # served by the export's prefetch
        return {
            "value_ids": ", ".join(str(item.pk) for item in related),
            "value_names": ", ".join(str(item) for item in related),
        }


class PlainValue:
    """Every other field: ``value``, rendered by its internal type."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return True

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        return {"value": render_value(field, field.value_from_object(obj))}


BUILTIN_FIELD_VALUE_PROCESSORS: tuple[FieldValueProcessor, ...] = (
    ChoiceValue(),
    RelatedObjectValue(),
    ManyRelatedValues(),
    PlainValue(),
)


def builtin_field_value_processor(field: Field[Any, Any], obj: Model) -> FieldValueProcessor:
    """The built-in processor for a field: the first of the built-ins that supports it."""
    return next(p for p in BUILTIN_FIELD_VALUE_PROCESSORS if p.supports(field, obj))
