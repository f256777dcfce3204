"""Symfony's ``%env(...)%`` placeholders, strictly: a value is read, or it is an error.

A placeholder is ``%env([PROCESSOR:][default:SETTING:]NAME)%``:

* ``%env(NAME)%`` is the text of the environment variable ``NAME`` (read through
  django-environ's environment, so a ``.env`` file loaded with ``environ.Env.read_env()`` counts);
* ``int:`` makes it a whole number, ``bool:`` a boolean (``true``/``false``, ``1``/``0``,
  ``yes``/``no``, ``on``/``off``), ``string:`` text; any other processor is refused;
* ``default:SETTING:`` uses the Django setting ``SETTING`` when ``NAME`` is not set or empty.
  Symfony falls back to a container parameter there; Django's counterpart of a parameter is a
  setting. ``default::NAME`` (no setting) falls back to null, as in Symfony.

A placeholder that is the whole value gives a typed value; placeholders inside a longer string
are replaced by their text. Anything that starts like a placeholder but is not one (an
unterminated ``%env(NAME``) is an error, never a literal: a typo must not become a secret.
"""

from __future__ import annotations

import re
from typing import Any

import environ

PLACEHOLDER = re.compile(r"%env\((?P<body>[^()%]*)\)%")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESSORS = ("int", "bool", "string")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
FORM_HINT = (
    "Write %env(NAME)%, %env(int:NAME)%, %env(bool:NAME)%, %env(string:NAME)%, optionally "
    "with a fallback setting: %env(int:default:SETTING_NAME:NAME)%."
)


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; ``check_id`` says which rule it broke."""

    def __init__(self, message: str, hint: str, check_id: str) -> None:
        super().__init__(message)
        self.hint = hint
        self.check_id = check_id


def resolve(value: str) -> Any:
    """Replace the placeholders in ``value``; raise PlaceholderError when one cannot be."""
    if "%env(" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return _evaluate(whole.group(0), whole.group("body"))
    text = PLACEHOLDER.sub(lambda found: _as_text(_evaluate(found.group(0), found["body"])), value)
    if "%env(" in text:
        start = text.index("%env(")
        fragment = text[start : start + 40]
        raise PlaceholderError(
            f"{fragment!r} is not a complete placeholder (it needs a closing ')%').",
            FORM_HINT,
            "cdp_bridge.E032",
        )
    return text


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _evaluate(placeholder: str, body: str) -> Any:
    *processors, name = body.split(":")
    if not VARIABLE_NAME.fullmatch(name):
        raise PlaceholderError(
            f"{placeholder} does not end with an environment variable name.",
            FORM_HINT,
            "cdp_bridge.E032",
        )
    fallback: tuple[str] | None = None
    if len(processors) >= 2 and processors[-2] == "default":
        fallback = (processors[-1],)
        processors = processors[:-2]
    if len(processors) > 1 or "default" in processors:
        raise PlaceholderError(
            f"{placeholder} chains processors in a way cdp_bridge does not read.",
            FORM_HINT,
            "cdp_bridge.E032",
        )
    processor = processors[0] if processors else "string"
    if processor not in PROCESSORS:
        raise PlaceholderError(
            f"{placeholder} uses the processor {processor!r}, which cdp_bridge does not "
            f"support (variable {name}).",
            f"Use one of {', '.join(p + ':' for p in PROCESSORS)} or default:SETTING:.",
            "cdp_bridge.E030",
        )
    value: Any = environ.Env.ENVIRON.get(name)
    if fallback is not None:
        setting_value = _fallback_setting(placeholder, fallback[0], name)
        if value in (None, ""):
            value = setting_value
    elif value is None:
        raise PlaceholderError(
            f"the environment variable {name} is not set.",
            f"Set {name} in the environment or in the project's .env file.",
            "cdp_bridge.E012",
        )
    return _cast(placeholder, processor, name, value)


def _fallback_setting(placeholder: str, setting_name: str, variable: str) -> Any:
    """The value of the Django setting a ``default:`` processor falls back to (None if unnamed)."""
    from django.conf import settings

    if setting_name == "":
        return None
    if setting_name.isupper() and hasattr(settings, setting_name):
        return getattr(settings, setting_name)
    hint = (
        f"Define {setting_name} in your Django settings, or set {variable}."
        if setting_name.isupper()
        else f"Django settings are upper case: name one, e.g. "
        f"%env(default:{setting_name.upper()}:{variable})%."
    )
    raise PlaceholderError(
        f"{placeholder} falls back to the Django setting {setting_name!r}, which does not "
        f"exist (variable {variable}).",
        hint,
        "cdp_bridge.E033",
    )


def _cast(placeholder: str, processor: str, name: str, value: Any) -> Any:
    if value is None:
        return None
    if processor == "string":
        return value if isinstance(value, str) else str(value)
    if processor == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
            return int(value.strip())
        expected = "a whole number"
    else:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        expected = "true or false (1/0, yes/no, on/off)"
    raise PlaceholderError(
        f"{placeholder}: the environment variable {name} does not hold {expected}.",
        f"Set {name} to {expected}.",
        "cdp_bridge.E031",
    )
