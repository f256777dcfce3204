"""Person identifiers: what the CDP calls a person, matched to the user field that holds it.

The CDP sends ``userid`` values (the ``id`` column of the user export) as strings or integers.
Each is converted to the type of the activation's ``person_identifier_field`` (the primary
key by default) before it reaches the database; a value that cannot be of that type (``"abc"``
for an integer key, text with NUL) matches no user and is counted as unknown, never an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Field

from cdp_bridge.conf import Activation
from cdp_bridge.field_types import INTEGER_FIELD_TYPES, MAX_BIGINT, MIN_BIGINT


@dataclass(frozen=True)
class Identifiers:
    """Distinct person identifiers in the field's type, and how many could match no user."""

    values: frozenset[Any]
    unmatchable: int


@dataclass(frozen=True)
class PersonField:
    """The user field that holds person identifiers, and the kind of value it stores."""

    field: Field[Any, Any]
    kind: str  # "integer", "uuid" or "text"

    @classmethod
    def of(cls, activation: Activation) -> PersonField:
        user_model = get_user_model()
        if activation.person_identifier_field:
            field = user_model._meta.get_field(activation.person_identifier_field)
        else:
            field = user_model._meta.pk
        assert isinstance(field, Field)
        internal_type = field.get_internal_type()
        if internal_type in INTEGER_FIELD_TYPES:
            kind = "integer"
        elif internal_type == "UUIDField":
            kind = "uuid"
        else:
            kind = "text"
        return cls(field, kind)

    @property
    def column(self) -> str:
        return str(self.field.column)

    def convert(self, members: Iterable[str | int]) -> Identifiers:
        """The distinct identifiers in this field's type; those that cannot be are counted."""
        if self.kind == "integer":
            return _integers(members)
        convert = _uuid if self.kind == "uuid" else _text
        values: set[Any] = set()
        unmatchable: set[str | int] = set()
        for member in members:
            value = convert(member)
            if value is None:
                unmatchable.add(member)
            else:
                values.add(value)
        return Identifiers(frozenset(values), len(unmatchable))


def _integers(members: Iterable[str | int]) -> Identifiers:
    """Integer ids, written out in one loop: a snapshot may hold a million of them."""
    values: set[int] = set()
    unmatchable: set[str | int] = set()
    for member in members:
        if type(member) is str:
            # str.isdigit() also accepts non-ASCII digits, which no CDP id uses.
            digits = member[1:] if member.startswith("-") else member
            if not (digits.isdigit() and digits.isascii()):
                unmatchable.add(member)
                continue
            number = int(member)
        else:
            number = member  # type: ignore[assignment]
        if MIN_BIGINT <= number <= MAX_BIGINT:
            values.add(number)
        else:
            unmatchable.add(member)
    return Identifiers(frozenset(values), len(unmatchable))


def _uuid(member: str | int) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(member))
    except ValueError:
        return None


def _text(member: str | int) -> str | None:
    text = str(member)
    return None if "\x00" in text else text
