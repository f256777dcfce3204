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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PLACEHOLDER = re.compile(r"%env\((?P<body>[^()%]*)\)%")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESSORS = ("int", "bool", "string")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
FORM_HINT = gettext_lazy(
    "Write %env(NAME)%, %env(int:NAME)%, %env(bool:NAME)%, %env(string:NAME)%, optionally "
    "with a fallback setting: %env(int:default:SETTING_NAME:NAME)%."
)


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; ``check_id`` says which rule it broke."""

    def __init__(self, message: str, hint: object, check_id: str) -> None:
        super().__init__(message)
        self.hint = str(hint)
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
            _("%(fragment)s is not a complete placeholder (it needs a closing ')%%').")
            % {"fragment": repr(fragment)},
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
            _("%(placeholder)s does not end with an environment variable name.")
            % {"placeholder": placeholder},
            FORM_HINT,
            "cdp_bridge.E032",
        )
    fallback: tuple[str] | None = None
    if len(processors) >= 2 and processors[-2] == "default":
        fallback = (processors[-1],)
        processors = processors[:-2]
    if len(processors) > 1 or "default" in processors:
        raise PlaceholderError(
            _("%(placeholder)s chains processors in a way cdp_bridge does not read.")
            % {"placeholder": placeholder},
            FORM_HINT,
            "cdp_bridge.E032",
        )
    processor = processors[0] if processors else "string"
    if processor not in PROCESSORS:
        raise PlaceholderError(
            _(
                "%(placeholder)s uses the processor %(processor)s, which cdp_bridge does not "
                "support (variable %(variable)s)."
            )
            % {"placeholder": placeholder, "processor": repr(processor), "variable": name},
            _("Use one of %(processors)s or default:SETTING:.")
            % {"processors": ", ".join(p + ":" for p in PROCESSORS)},
            "cdp_bridge.E030",
        )
    value: Any = environ.Env.ENVIRON.get(name)
    if fallback is not None:
        setting_value = _fallback_setting(placeholder, fallback[0], name)
        if value in (None, ""):
            value = setting_value
    elif value is None:
        raise PlaceholderError(
            _("the environment variable %(variable)s is not set.") % {"variable": name},
            _("Set %(variable)s in the environment or in the project's .env file.")
            % {"variable": name},
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
    names = {"setting": setting_name, "upper": setting_name.upper(), "variable": variable}
    hint = (
        _("Define %(setting)s in your Django settings, or set %(variable)s.") % names
        if setting_name.isupper()
        else _(
            "Django settings are upper case: name one, e.g. "
            "%%env(default:%(upper)s:%(variable)s)%%."
        )
        % names
    )
    raise PlaceholderError(
        _(
            "%(placeholder)s falls back to the Django setting %(setting)s, which does not "
            "exist (variable %(variable)s)."
        )
        % {"placeholder": placeholder, "setting": repr(setting_name), "variable": variable},
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
        expected = _("a whole number")
    else:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        expected = _("true or false (1/0, yes/no, on/off)")
    raise PlaceholderError(
        _("%(placeholder)s: the environment variable %(variable)s does not hold %(expected)s.")
        % {"placeholder": placeholder, "variable": name, "expected": expected},
        _("Set %(variable)s to %(expected)s.") % {"variable": name, "expected": expected},
        "cdp_bridge.E031",
    )
