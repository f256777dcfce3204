"""The configuration API: read CDP_BRIDGE live, validated, as typed frozen objects per scope.

Nothing is read at import time. The parsed configuration is cached until a setting it
depends on changes (``override_settings`` sends ``setting_changed``), or ``reload()``. Its
problems are sentences in the language active when it is read, so it is cached per language:
``manage.py check`` in German and a request in French each read their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http.request import split_domain_port
from django.utils.http import is_same_domain
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cdp_bridge.conf.document import read_configuration
from cdp_bridge.conf.problems import KeyPath, Problem
from cdp_bridge.conf.report import ConfigReport, RefusedEntry
from cdp_bridge.conf.schema import (
    SCHEDULE_KEY,
    Activation,
    CdpBridgeSettings,
    MembershipSettings,
    ProcessorReference,
    RaptorConnectorSettings,
    ScheduleEntry,
    ScopeSettings,
    SourceSettings,
    StreamSettings,
    TrackingSettings,
    WebhookSettings,
)
from cdp_bridge.conf.yaml_file import YamlConfigFile, load_yaml
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.stream_ids import is_valid_stream_id

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = [
    "SCHEDULE_KEY",
    "Activation",
    "CdpBridgeSettings",
    "ConfigReport",
    "KeyPath",
    "MembershipSettings",
    "Problem",
    "ProcessorReference",
    "RaptorConnectorSettings",
    "RefusedEntry",
    "ScheduleEntry",
    "ScopeSettings",
    "SourceSettings",
    "StreamSettings",
    "TrackingSettings",
    "WebhookSettings",
    "YamlConfigFile",
    "cdp_settings",
    "find_activation",
    "get_scope",
    "inspect_settings",
    "is_valid_stream_id",
    "load_yaml",
    "reload",
    "scope_for_host",
    "scope_for_request",
]

SETTINGS_READ = frozenset({"CDP_BRIDGE", "CDP_BRIDGE_CONFIG_FILE", "AUTH_USER_MODEL"})


_reports: dict[str | None, ConfigReport] = {}


def inspect_settings() -> ConfigReport:
    """Read and validate the configuration, keeping every problem (system checks use this)."""
    language = get_language()
    report = _reports.get(language)
    if report is None:
        report = _reports[language] = _read()
    return report


def cdp_settings() -> CdpBridgeSettings:
    """The validated configuration; ConfigurationError names the first problem's key path."""
    return inspect_settings().require()


def get_scope(name: str = "default") -> ScopeSettings:
    """The settings of one scope; UnknownScope lists the scopes there are."""
    return cdp_settings().scope(name)


def scope_for_host(host: str) -> ScopeSettings:
    """The scope whose ``hosts`` match ``host`` (exact names win over ``.wildcards``)."""
    config = cdp_settings()
    domain, _port = split_domain_port(host)
    domain = domain or host.lower()
    for scope in config.scopes.values():
        if domain in scope.hosts:
            return scope
    for scope in config.scopes.values():
        if any(
            pattern.startswith(".") and is_same_domain(domain, pattern) for pattern in scope.hosts
        ):
            return scope
    return config.scope("default")


def scope_for_request(request: HttpRequest) -> ScopeSettings:
    """The scope a request belongs to, found from its host."""
    return scope_for_host(request.get_host())


def find_activation(client_id: str) -> tuple[ScopeSettings, Activation] | None:
    """The activation with ``client_id`` and the first scope that has it, or None."""
    for scope in cdp_settings().scopes.values():
        for activation in scope.activations:
            if activation.client_id == client_id:
                return scope, activation
    return None


def reload() -> None:
    """Forget the cached configuration: read it again on next use (after editing the YAML file)."""
    _reports.clear()


@receiver(setting_changed)
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in SETTINGS_READ:
        reload()


def _read() -> ConfigReport:
    raw: Any = getattr(settings, "CDP_BRIDGE", None)
    config_file = getattr(settings, "CDP_BRIDGE_CONFIG_FILE", None)
    if raw is None and config_file:
        raw = YamlConfigFile(config_file)
    origin = str(raw.path) if isinstance(raw, YamlConfigFile) else "settings.CDP_BRIDGE"
    prefixes: Mapping[str, str] = {}
    if isinstance(raw, YamlConfigFile):
        try:
            raw, prefixes = raw.read()
        except ConfigurationError as error:
            problem = Problem(
                "cdp_bridge.E013",
                origin,
                str(error).removeprefix(f"{origin}: "),
                _("Fix the file, then run manage.py check again."),
            )
            return ConfigReport(None, (problem,), origin)
    reading = read_configuration(
        {} if raw is None else raw, prefixes, default_user_model=settings.AUTH_USER_MODEL
    )
    return ConfigReport(reading.settings, reading.problems, origin, prefixes, reading.refused)
