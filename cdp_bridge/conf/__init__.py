"""The configuration API: read CDP_BRIDGE live, validated, as typed frozen objects per scope.

Nothing is read at import time. The parsed configuration is cached until a setting it
depends on changes (``override_settings`` sends ``setting_changed``), or ``reload()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http.request import split_domain_port
from django.utils.http import is_same_domain

from cdp_bridge.conf.parser import (
    ConfigParser,
    Problem,
    is_valid_stream_id,
    render_key_path,
)
from cdp_bridge.conf.schema import (
    Activation,
    CdpBridgeSettings,
    ScheduleEntry,
    ScopeSettings,
    SourceSettings,
    StreamSettings,
)
from cdp_bridge.conf.yaml_file import YamlConfigFile, load_yaml
from cdp_bridge.exceptions import ConfigurationError

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = [
    "Activation",
    "CdpBridgeSettings",
    "ConfigReport",
    "Problem",
    "ScheduleEntry",
    "ScopeSettings",
    "SourceSettings",
    "StreamSettings",
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


@dataclass(frozen=True)
class ConfigReport:
    """The configuration as read, with every problem found; ``settings`` is None if unreadable."""

    settings: CdpBridgeSettings | None
    problems: tuple[Problem, ...]
    origin: str
    prefixes: Mapping[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.is_error)

    def schedule_entry_errors(self, kind: str, index: int) -> tuple[Problem, ...]:
        """The errors inside schedule entry ``<kind>[index]``: the schedule refuses that entry."""
        return tuple(error for error in self.errors if error.schedule_entry == (kind, index))

    @property
    def refused_schedule_entries(self) -> tuple[tuple[str, int], ...]:
        """``(kind, index)`` of each schedule entry with an error, in the order reported."""
        return tuple(dict.fromkeys(e.schedule_entry for e in self.errors if e.schedule_entry))

    def key_path(self, *parts: str | int) -> str:
        """A key path as the configuration's author wrote it (with its YAML section)."""
        return render_key_path(parts, self.prefixes)


_report: ConfigReport | None = None


def inspect_settings() -> ConfigReport:
    """Read and validate the configuration, keeping every problem (system checks use this)."""
    global _report
    if _report is None:
        _report = _read()
    return _report


def cdp_settings() -> CdpBridgeSettings:
    """The validated configuration; ConfigurationError names the first problem's key path.

    An error inside one schedule entry does not count here: that entry is left out of
    ``schedule``, and the schedule reports it as refused while the other entries run.
    """
    report = inspect_settings()
    errors = [error for error in report.errors if error.schedule_entry is None]
    if errors or report.settings is None:
        first = errors[0]
        more = len(errors) - 1
        suffix = f" ({more} more: run manage.py check)" if more else ""
        raise ConfigurationError(f"CDP configuration ({report.origin}): {first}{suffix}")
    return report.settings


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
    global _report
    _report = None


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
                "Fix the file, then run manage.py check again.",
            )
            return ConfigReport(None, (problem,), origin)
    parser = ConfigParser(prefixes, default_user_model=settings.AUTH_USER_MODEL)
    parsed = parser.parse(raw or {})
    return ConfigReport(parsed, tuple(parser.problems), origin, prefixes)
