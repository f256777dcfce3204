"""The schedule's entries as it runs them: each one's export options, or why it cannot run.

An entry's ``options`` string is parsed once, as its ``stream_<kind>_data`` command parses
its command line (Ibexa passes it to the command), into the export's own ExportOptions. An
entry the configuration or its command refuses is kept in the list with its problem: the
schedule skips it, says why, and runs the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdp_bridge.conf import ScheduleEntry, cdp_settings, inspect_settings
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.plan import ExportOptions
from cdp_bridge.management.stream_data import parse_options


@dataclass(frozen=True)
class ScheduledExport:
    """One schedule entry: ``entry`` and its ``options``, or the ``problem`` that refuses it.

    ``entry`` is None when the configuration could not read the entry at all (an invalid
    interval, a scope that does not exist).
    """

    kind: str
    index: int
    entry: ScheduleEntry | None
    options: ExportOptions | None
    problem: str = ""

    @property
    def name(self) -> str:
        """``user[0]``: the entry as people find it in the configuration."""
        return f"{self.kind}[{self.index}]"


@dataclass(frozen=True)
class UnreadSchedule:
    """A part of the schedule section outside any one entry that cannot be read (a kind that
    does not exist, entries that are not a list): ``where`` it is, and the ``problem``."""

    where: str
    problem: str


def unread_schedule() -> list[UnreadSchedule]:
    """What of the schedule section cannot be read beyond its entries; the schedule refuses it
    (and runs the rest), while the rest of the configuration works on."""
    return [
        UnreadSchedule(problem.path, f"{problem.message} {problem.hint}".strip())
        for problem in inspect_settings().schedule_problems
    ]


def entry_options(entry: ScheduleEntry) -> ExportOptions:
    """The export an entry runs; ExportError says why its options cannot run."""
    return parse_options(entry.kind, entry.options, scope=entry.scope)


def options_problem(entry: ScheduleEntry) -> str | None:
    """Why the entry's options cannot run, or None: the system check (E019) asks this."""
    try:
        entry_options(entry)
    except ExportError as error:
        return str(error)
    return None


def scheduled_exports() -> list[ScheduledExport]:
    """Every entry as configured, in order; ConfigurationError if the rest is broken."""
    found = []
    for entry in cdp_settings().schedule:
        try:
            options = entry_options(entry)
        except ExportError as error:
            found.append(ScheduledExport(entry.kind, entry.index, entry, None, str(error)))
        else:
            found.append(ScheduledExport(entry.kind, entry.index, entry, options))
    for refused in inspect_settings().refused_schedule:
        problem = " ".join(str(error) for error in refused.problems)
        found.append(ScheduledExport(refused.entry.kind, refused.entry.index, None, None, problem))
    return sorted(
        found, key=lambda scheduled: (EXPORT_KINDS.index(scheduled.kind), scheduled.index)
    )
