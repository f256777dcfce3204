"""Symfony-style ``%env(NAME)%`` placeholders, resolved through django-environ.

``%env(NAME)%`` is a string, ``%env(int:NAME)%`` an integer, ``%env(bool:NAME)%`` a boolean.
A placeholder that is the whole value is replaced by the typed value; one inside a longer
string is replaced by the variable's text.
"""

from __future__ import annotations

import re
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

PLACEHOLDER = re.compile(r"%env\((?:(?P<cast>[a-z]+):)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\)%")
CASTS = ("str", "string", "int", "bool")


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; ``check_id`` says which rule it broke."""

    def __init__(self, message: str, hint: str, check_id: str) -> None:
        super().__init__(message)
        self.hint = hint
        self.check_id = check_id


def resolve(value: str) -> Any:
    """Replace the placeholders in ``value``; raise PlaceholderError when one cannot be."""
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return _read(whole.group("name"), whole.group("cast") or "str")
    return PLACEHOLDER.sub(lambda match: str(_read(match.group("name"), "str")), value)


def _read(name: str, cast: str) -> Any:
    if cast not in CASTS:
        raise PlaceholderError(
            f"unknown placeholder type {cast!r} in %env({cast}:{name})%.",
            "Use %env(NAME)%, %env(int:NAME)% or %env(bool:NAME)%.",
            "cdp_bridge.E002",
        )
    if name not in environ.Env.ENVIRON:
        raise PlaceholderError(
            f"the environment variable {name} is not set.",
            f"Set {name} in the environment or in the project's .env file.",
            "cdp_bridge.E012",
        )
    env = environ.Env()
    try:
        if cast == "int":
            return env.int(name)
        if cast == "bool":
            return env.bool(name)
        return env.str(name)
    except (ValueError, ImproperlyConfigured):
        raise PlaceholderError(
            f"the environment variable {name} is not a valid {cast}.",
            f"Set {name} to a value of type {cast}.",
            "cdp_bridge.E002",
        ) from None
