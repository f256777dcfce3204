"""The rules values follow beyond their type, each with its check id.

The rules of other parts live with those parts (the crontab in ``schedule.cron``, the stream id
in ``cdp_bridge.stream_ids``); this module gives each its check id, hint and JSON Schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.conf.spec import ClassRule, Rule
from cdp_bridge.schedule.cron import (
    MALFORMED_HINT,
    NEVER_FIRES_HINT,
    malformed_interval,
    never_fires,
)
from cdp_bridge.stream_ids import STREAM_ID_HINT, STREAM_ID_PATTERN, is_valid_stream_id

HTTP_URL = re.compile(r"https?://[^\s/?#]+(/\S*)?")
TRACKING_PARAMETER = re.compile(r"p[1-9][0-9]{0,2}")  # Raptor: p1 to p999
MIN_CLIENT_SECRET_LENGTH = 16
EXAMPLE_CLIENT_SECRETS = frozenset({"abcdef", "123456"})
REQUIRED = "cdp_bridge.E022"
BELOW_MINIMUM = "cdp_bridge.E023"
NOT_A_CHOICE = "cdp_bridge.E024"
EMPTY = "cdp_bridge.E026"
UNKNOWN_KEY = "cdp_bridge.E001"
SAME_SETTING_DISAGREES = "cdp_bridge.E034"
NOT_FINITE = "cdp_bridge.E037"

ACCOUNT_NUMBER_HINT = gettext_lazy(
    "Copy it from the account list in the CDP dashboard (top right corner)."
)

HTTP_URL_RULE = Rule(
    "cdp_bridge.E025",
    lambda url: (
        None
        if HTTP_URL.fullmatch(url)
        else _("%(url)s is not an http(s) URL.") % {"url": repr(url)}
    ),
    gettext_lazy("Write it as https://host[:port]."),
    {"pattern": "^https?://[^\\s/?#]+(/\\S*)?$"},
)
STREAM_ID_RULE = Rule(
    "cdp_bridge.E004",
    lambda value: None if is_valid_stream_id(value) else _("the stream id is malformed."),
    STREAM_ID_HINT,
    {"pattern": f"^({STREAM_ID_PATTERN})$"},
)
CRON_RULES = (
    Rule("cdp_bridge.E005", malformed_interval, MALFORMED_HINT),
    Rule("cdp_bridge.E006", never_fires, NEVER_FIRES_HINT),
)
CLIENT_SECRET_RULES = (
    Rule(
        "cdp_bridge.E009",
        lambda secret: (
            _("the client secret is an example value.")
            if secret in EXAMPLE_CLIENT_SECRETS
            else None
        ),
        gettext_lazy(
            "Generate a random secret, e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'."
        ),
    ),
    Rule(
        "cdp_bridge.E008",
        lambda secret: (
            _("the client secret is shorter than %(length)d characters.")
            % {"length": MIN_CLIENT_SECRET_LENGTH}
            if len(secret) < MIN_CLIENT_SECRET_LENGTH
            else None
        ),
        gettext_lazy("Use a random secret of at least 32 characters."),
        {"minLength": MIN_CLIENT_SECRET_LENGTH},
    ),
)
TRACKING_PARAMETER_RULE = Rule(
    "cdp_bridge.E027",
    lambda position: (
        None
        if TRACKING_PARAMETER.fullmatch(position)
        else _("%(position)s is not a Raptor tracking parameter.") % {"position": repr(position)}
    ),
    gettext_lazy("Write p1 to p999, as listed in your account's tracking documentation."),
    {"pattern": "^p[1-9][0-9]{0,2}$"},
)
MODEL_LABEL_RULE = Rule(
    "cdp_bridge.E028",
    lambda label: (
        None
        if label.count(".") == 1
        else _("%(label)s is not a model label.") % {"label": repr(label)}
    ),
    gettext_lazy("Write it as 'app_label.ModelName', e.g. 'auth.User'."),
    {"pattern": "^[^.]+\\.[^.]+$"},
)


def _needs_model_or_queryset(values: Mapping[str, Any]) -> tuple[str, str] | None:
    if values.get("model") is None and values.get("queryset") is None:
        return "model", _("a source needs a model or a queryset.")
    return None


def _membership_without_base_url(values: Mapping[str, Any]) -> tuple[str, str] | None:
    if values.get("activation_id") and values.get("api_key") and not values.get("base_url"):
        return (
            "base_url",
            _(
                "the membership API has an activation id and an API key but no base URL, so "
                "anonymous visitors get no segments."
            ),
        )
    return None


MODEL_OR_QUERYSET = ClassRule(
    REQUIRED,
    _needs_model_or_queryset,
    gettext_lazy("Add model: 'app_label.ModelName', or a queryset."),
    {"anyOf": [{"required": ["model"]}, {"required": ["queryset"]}]},
)


def _path_or_skip_missing(values: Mapping[str, Any]) -> tuple[str, str] | None:
    if values.get("path") is None and values.get("skip") is None:
        return "path", _("is required.")
    return None


def _path_and_skip(values: Mapping[str, Any]) -> tuple[str, str] | None:
    if values.get("path") is not None and values.get("skip") is not None:
        return "skip", _("an entry has both a path and a skip rule.")
    return None


def _skip_names_nothing(values: Mapping[str, Any]) -> tuple[str, str] | None:
    if not values.get("fields") and not values.get("types"):
        return "fields", _("the skip rule names no fields and no types.")
    return None


PROCESSOR_NEEDS_PATH = ClassRule(
    REQUIRED,
    _path_or_skip_missing,
    gettext_lazy(
        "Give the processor's dotted path (a field processor may be a skip rule instead)."
    ),
    {"anyOf": [{"required": ["path"]}, {"required": ["skip"]}]},
)
PATH_AND_SKIP = ClassRule(
    "cdp_bridge.E036",
    _path_and_skip,
    gettext_lazy("Write the processor and the skip rule as two entries."),
    {"not": {"required": ["path", "skip"]}},
)
SKIP_NAMES_SOMETHING = ClassRule(
    EMPTY,
    _skip_names_nothing,
    gettext_lazy("Add fields: [name, app_label.Model.name] or types: [JSONField]."),
    {"anyOf": [{"required": ["fields"]}, {"required": ["types"]}]},
)
MEMBERSHIP_NEEDS_BASE_URL = ClassRule(
    "cdp_bridge.W005",
    _membership_without_base_url,
    gettext_lazy(
        "Set membership.base_url to the CDP API's address (Raptor's is "
        "https://cdp-api.raptorsmartadvisor.com); Ibexa has it built in, cdp_bridge asks for it."
    ),
)
