"""The configuration as read: the settings, every problem, and the schedule entries refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cdp_bridge.conf.problems import Problem, is_under, render_key_path
from cdp_bridge.conf.reader import Refused
from cdp_bridge.conf.schema import SCHEDULE_KEY, CdpBridgeSettings, ScheduleEntry
from cdp_bridge.exceptions import ConfigurationError


@dataclass(frozen=True)
class RefusedEntry:
    """A schedule entry that cannot run, as written, and the problems that refuse it."""

    entry: ScheduleEntry
    problems: tuple[Problem, ...]

    @property
    def reason(self) -> str:
        return "; ".join(f"{problem.message} {problem.hint}".strip() for problem in self.problems)


@dataclass(frozen=True)
class ConfigReport:
    """The configuration as read, with every problem found; ``settings`` is None if unreadable."""

    settings: CdpBridgeSettings | None
    problems: tuple[Problem, ...]
    origin: str
    prefixes: Mapping[str, str] = field(default_factory=dict)
    refused: tuple[Refused, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.is_error)

    def key_path(self, *parts: str | int) -> str:
        """A key path as the configuration's author wrote it (with its YAML section)."""
        return render_key_path(parts, self.prefixes)

    def problems_under(self, *prefix: str | int) -> tuple[Problem, ...]:
        """The problems at ``prefix`` or inside it (``"data_export", "schedule"``)."""
        return tuple(problem for problem in self.problems if is_under(problem.key, prefix))

    def require(self) -> CdpBridgeSettings:
        """The settings; ConfigurationError names the first error.

        An error in the schedule never disables the rest of the site (the exports by hand,
        the webhook, tracking). One inside an entry refuses that entry alone: it is left out
        of ``settings.schedule`` and listed in ``refused_schedule``. One in the section
        itself (a kind that does not exist, entries that are not a list) refuses what it
        holds, and is listed in ``schedule_problems``.
        """
        errors = [
            problem
            for problem in self.errors
            if not (problem.key and is_under(problem.key, SCHEDULE_KEY))
        ]
        if errors or self.settings is None:
            first = errors[0] if errors else self.errors[0]
            more = len(errors) - 1
            if more > 0:
                message = ngettext(
                    "CDP configuration (%(origin)s): %(problem)s (%(count)d more: run manage.py "
                    "check)",
                    "CDP configuration (%(origin)s): %(problem)s (%(count)d more: run manage.py "
                    "check)",
                    more,
                )
            else:
                message = _("CDP configuration (%(origin)s): %(problem)s")
            raise ConfigurationError(
                message % {"origin": self.origin, "problem": first, "count": more}
            )
        return self.settings

    @property
    def schedule_problems(self) -> tuple[Problem, ...]:
        """The errors in the schedule section that are not inside one entry."""
        refused = [entry.entry.key_path for entry in self.refused_schedule]
        return tuple(
            problem
            for problem in self.problems_under(*SCHEDULE_KEY)
            if problem.is_error and not any(is_under(problem.key, path) for path in refused)
        )

    @property
    def refused_schedule(self) -> tuple[RefusedEntry, ...]:
        """The schedule entries left out of ``settings.schedule``, as written, with why."""
        entries = []
        for item in self.refused:
            if item.cls is not ScheduleEntry or not is_under(item.path, SCHEDULE_KEY):
                continue
            raw: Mapping[str, Any] = item.raw if isinstance(item.raw, Mapping) else {}
            kind, index = item.path[-2], item.path[-1]
            assert isinstance(kind, str) and isinstance(index, int)
            entry = ScheduleEntry(
                kind=kind,
                index=index,
                interval=_text(raw.get("interval")),
                options=_text(raw.get("options")),
                scope=_text(raw.get("scope", "default")),
            )
            entries.append(RefusedEntry(entry, self.problems_under(*item.path)))
        return tuple(entries)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
