"""Who a user is to the CDP: the ``userid`` the user export sends and the tracking tags send.

Both must be the same value, or the CDP cannot join a visitor's events to the exported
profile. It is the user field the scope's activations match members on
(``person_identifier_field``), the primary key by default; check cdp_bridge.E021 keeps the
activations of a scope agreeing on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdp_bridge.conf import ScopeSettings

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def person_identifier_field(scope: ScopeSettings) -> str | None:
    """The user field that holds the CDP's ``userid`` in ``scope``; None: the primary key."""
    for activation in scope.activations:
        return activation.person_identifier_field
    return None


def person_identifier(user: AbstractBaseUser, scope: ScopeSettings) -> str:
    """A user's ``userid``: the value of the person identifier field, as text."""
    field = person_identifier_field(scope)
    return str(getattr(user, field) if field else user.pk)
