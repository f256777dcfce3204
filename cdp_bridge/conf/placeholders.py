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

Percent signs are read as Symfony reads them: ``%%`` is one percent sign (``'100%%'`` is
``100%``), and ``%name%`` is a reference to the container parameter ``name``. A Django site has
no container, so such a reference is an error naming the parameter, except
``%kernel.project_dir%``, which is the ``BASE_DIR`` setting. A lone ``%`` (``50% off``) is
itself. The value of an environment variable is never read again for percent signs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import environ
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PLACEHOLDER = re.compile(r"%env\((?P<body>[^()%]*)\)%")
# Symfony's reading of a string: ``%%`` is a percent sign, ``%name%`` a reference (a parameter,
# or ``env(...)``); a percent sign in neither is itself.
REFERENCE = re.compile(r"%%|%(?P<name>[^%\s]+)%")
ENV_REFERENCE = re.compile(r"env\((?P<body>[^()%]*)\)")
PROJECT_DIR_PARAMETER = "kernel.project_dir"
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESSORS = ("int", "float", "bool", "string")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
DECIMAL_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
FORM_HINT = gettext_lazy(
    "Write %env(NAME)%, %env(int:NAME)%, %env(float:NAME)%, %env(bool:NAME)%, "
    "%env(string:NAME)%, optionally with a fallback setting: %env(int:default:SETTING_NAME:NAME)%."
)


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; ``check_id`` says which rule it broke.

    ``shown`` is the text of the value the message repeats, when it is not a placeholder's own
    (an unterminated ``%env(`` and what follows, a ``%name%``): of a secret, it is not shown.
    """

    def __init__(self, message: str, hint: object, check_id: str, *, shown: str = "") -> None:
        super().__init__(message)
        self.hint = str(hint)
        self.check_id = check_id
        self.shown = shown


def resolve(value: str) -> Any:
    """Replace the placeholders in ``value``; raise PlaceholderError when one cannot be."""
    if "%" not in value:
        return value
    whole = REFERENCE.fullmatch(value.strip())
    if whole and whole["name"]:
        return _reference(whole)
    parts = []
    position = 0
    for found in REFERENCE.finditer(value):
        parts.append(_literal_text(value[position : found.start()]))
        parts.append("%" if found.group(0) == "%%" else _as_text(_reference(found)))
        position = found.end()
    parts.append(_literal_text(value[position:]))
    return "".join(parts)


def _literal_text(text: str) -> str:
    """Text between references, which must not hold the start of a placeholder."""
    if "%env(" in text:
        _incomplete(text[text.index("%env(") :])
    return text


def _incomplete(fragment: str) -> None:
    raise PlaceholderError(
        _("%(fragment)s is not a complete placeholder (it needs a closing ')%%').")
        % {"fragment": repr(fragment[:40])},
        FORM_HINT,
        "cdp_bridge.E032",
        shown=fragment[:40],
    )


def _reference(found: re.Match[str]) -> Any:
    name = found["name"]
    env = ENV_REFERENCE.fullmatch(name)
    if env:
        return _evaluate(found.group(0), env["body"])
    if name.startswith("env("):  # %env(A)x%: the placeholder does not close where it ends
        _incomplete(found.group(0))
    return _parameter(found.group(0), name)


def _parameter(reference: str, name: str) -> Any:
    """A Symfony container parameter: ``kernel.project_dir`` is BASE_DIR, others are refused."""
    from django.conf import settings

    project_dir = getattr(settings, "BASE_DIR", None)  # startproject's name for it
    if name == PROJECT_DIR_PARAMETER and project_dir is not None:
        return str(project_dir)
    if name == PROJECT_DIR_PARAMETER:
        hint = _(
            "Define BASE_DIR (the project's directory) in your Django settings, or write the "
            "path itself. A percent sign that is not a reference is written %(escaped)s."
        ) % {"escaped": "%%"}
    else:
        variable = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "NAME"
        hint = _(
            "Take the value from the environment, %(from_environment)s, or from a Django "
            "setting, %(from_setting)s. A percent sign that is not a reference is written "
            "%(escaped)s."
        ) % {
            "from_environment": f"%env({variable})%",
            "from_setting": f"%env(default:{variable}:{variable})%",
            "escaped": "%%",
        }
    raise PlaceholderError(
        _(
            "%(reference)s refers to the Symfony container parameter %(parameter)r, which a "
            "Django site does not have."
        )
        % {"reference": reference, "parameter": name},
        hint,
        "cdp_bridge.E039",
        shown=reference,
    )


def typed_placeholder(value: str, processor: str) -> str | None:
    """``%env(NAME)%`` with ``processor`` added (``%env(int:NAME)%``), if it is such a placeholder.

    None when ``value`` is not one placeholder without a processor of its own.
    """
    whole = PLACEHOLDER.fullmatch(value.strip())
    if not whole:
        return None
    body = whole["body"].removeprefix("string:")
    if body.split(":")[0] in PROCESSORS:
        return None
    return f"%env({processor}:{body})%"


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
    elif processor == "float":
        number = _finite_number(value)
        if number is not None:
            return number
        expected = _("a finite number")
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


def _finite_number(value: Any) -> float | None:
    """``value`` as a finite float (Symfony's ``float:``), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and DECIMAL_NUMBER.fullmatch(value.strip()):
        value = float(value.strip())
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
