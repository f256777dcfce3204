"""Who a user is to the CDP: the person identifier, one user field per scope.

The user export sends it as the ``id`` column (the CDP's ``userid``), the tracking tags send it
as the user id, and the activation webhook matches the members of an audience against it. All
three must agree, or the CDP cannot join a visitor's events and audiences to the exported
profile, so all three read it through one ``PersonIdentifier``: the field named by the scope's
activations (``person_identifier_field``), the primary key by default. Check cdp_bridge.E021
keeps the activations of a scope agreeing on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.contrib.auth import get_user_model
from django.db.models import Field, Model

from cdp_bridge.conf import ScopeSettings
from cdp_bridge.field_types import INTEGER_FIELD_TYPES, MAX_BIGINT, MIN_BIGINT

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

IdentifierKind = Literal["integer", "uuid", "text"]


@dataclass(frozen=True)
class Identifiers:
    """Distinct person identifiers in the field's type, and how many could match no user."""

    values: frozenset[Any]
    unmatchable: int


@dataclass(frozen=True)
class PersonIdentifier:
    """The user field that holds the CDP's ``userid``, and the kind of value it stores."""

    field: Field[Any, Any]
    kind: IdentifierKind

    @classmethod
    def for_scope(
        cls, scope: ScopeSettings, user_model: type[Model] | None = None
    ) -> PersonIdentifier:
        """The person identifier of ``scope``: its activations' field, else the primary key.

        ``user_model`` is the model the field is read from (default: ``AUTH_USER_MODEL``, the
        one the webhook matches members in; a user export source may name another).
        """
        field_name = next(
            (activation.person_identifier_field for activation in scope.activations), None
        )
        return cls.named(field_name, user_model)

    @classmethod
    def named(
        cls, field_name: str | None, user_model: type[Model] | None = None
    ) -> PersonIdentifier:
        """The person identifier held in the user field ``field_name`` (None: the primary key)."""
        opts = (user_model or get_user_model())._meta
        field = opts.get_field(field_name) if field_name else opts.pk
        assert isinstance(field, Field)
        internal_type = field.get_internal_type()
        kind: IdentifierKind = "text"
        if internal_type in INTEGER_FIELD_TYPES:
            kind = "integer"
        elif internal_type == "UUIDField":
            kind = "uuid"
        return cls(field, kind)

    @property
    def attname(self) -> str:
        """The attribute (and ``values()`` name) that holds the identifier on a user."""
        return str(self.field.attname)

    @property
    def column(self) -> str:
        return str(self.field.column)

    def exported(self, value: Any) -> int | str | None:
        """A stored value as the CDP gets it: a number for an integer field, else text."""
        if value is None:
            return None
        return int(value) if self.kind == "integer" else str(value)

    def of(self, user: AbstractBaseUser) -> int | str | None:
        """The person identifier of ``user``, as the user export sends it."""
        return self.exported(getattr(user, self.attname))

    def convert(self, members: Iterable[str | int]) -> Identifiers:
        """The CDP's members in this field's type, distinct; those that cannot be are counted.

        The CDP sends identifiers as strings or integers. One that cannot be of this field's
        type (``"abc"`` for an integer key, text with NUL) matches no user: it is counted as
        unknown, never an error.
        """
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


def person_identifier(user: AbstractBaseUser, scope: ScopeSettings) -> str | None:
    """A user's ``userid`` in ``scope`` as text (the id the tracking tags send).

    None when the user has none (the field is NULL or empty): such users are not identified at
    all, where as ``"None"`` or ``""`` they would all be one person to the CDP.
    """
    value = PersonIdentifier.for_scope(scope).of(user)
    return None if value is None or value == "" else str(value)


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
