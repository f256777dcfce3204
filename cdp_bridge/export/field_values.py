"""The built-in field value processors: how each kind of Django field is rendered for the CDP.

The CDP stores scalars only (Raptor: String, Boolean, Number, DateTime ISO 8601, Null), so every
value is rendered as one: a renderer per internal type for plain values, and processors of their
own for choices and relations. They sit at priority -100, as Ibexa's system processors do.

A processor's keys become columns by Ibexa's rule: ``value`` is ``field_<f>_value``, any other
key ``k`` is ``field_<f>_value_<k>`` (a choice's ``label`` is ``field_<f>_value_label``).

``json_hash()`` is Ibexa's ``JsonHashFieldValueProcessor``, for fields of the types it is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Field, Model
from django.db.models.fields.files import FieldFile

from cdp_bridge.export.processors import FieldValueProcessor, Scalar, TypeRule
from cdp_bridge.field_types import INTEGER_FIELD_TYPES, FieldTypes

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
    """A field with ``choices``: its value, and the label people see (``label``)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.choices) and not field.is_relation

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        value = field.value_from_object(obj)
        label = None if value is None else str(getattr(obj, f"get_{field.name}_display")())
        return {"value": render_value(field, value), "label": label}


class RelatedObjectValue:
    """A ForeignKey or OneToOneField: the related object's ``id`` and its ``str()``, ``name``."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.many_to_one or field.one_to_one)

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        related_id = getattr(obj, field.attname)
        if related_id is None:
            return {"id": None, "name": None}
        target: Field[Any, Any] = field.target_field  # type: ignore[attr-defined]
        return {"id": render_value(target, related_id), "name": str(getattr(obj, field.name))}


class ManyRelatedValues:
    """A ManyToManyField: ``ids`` and ``names`` joined with ``", "`` (the CDP has no lists)."""

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return bool(field.many_to_many)

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        related = list(getattr(obj, field.name).all())  # served by the export's prefetch
        return {
            "ids": ", ".join(str(item.pk) for item in related),
            "names": ", ".join(str(item) for item in related),
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


class JsonHashValue(TypeRule):
    """Ibexa's ``JsonHashFieldValueProcessor``: the whole value as compact JSON text.

    Ibexa writes a field type's hash (``toHash()``); the Django counterpart is the field's
    Python value, with related objects as their primary keys and files as their names. The
    CDP cannot match on parts of JSON text, only compare it as a string.
    """

    def __init__(self, types: FieldTypes) -> None:
        self.types = types

    def supports(self, field: Field[Any, Any], obj: Model) -> bool:
        return self.types.matches(field)

    def process(self, field: Field[Any, Any], obj: Model) -> Mapping[str, Scalar]:
        value = field.value_from_object(obj)
        encoder = getattr(field, "encoder", None) or HashEncoder
        return {"value": json.dumps(value, cls=encoder, separators=(",", ":"), ensure_ascii=False)}

    def __repr__(self) -> str:
        return f"json_hash(types={self.types!r})"


class HashEncoder(DjangoJSONEncoder):
    """Django's JSON encoder (dates, decimals, UUIDs), with model instances and files."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Model):
            return o.pk
        if isinstance(o, FieldFile):
            return o.name or None
        return super().default(o)


def json_hash(*types: str | type[Field[Any, Any]]) -> JsonHashValue:
    """A field value processor that exports fields of these types as JSON text.

    Types are named as for ``skip()``: ``json_hash("ArrayField", "HStoreField")``. Register it
    like any field value processor: ``field_value_processor()(json_hash("ArrayField"))``.
    """
    return JsonHashValue(FieldTypes(types))
