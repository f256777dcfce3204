"""Runs the schedule: each entry whose interval fired since it last ran, once, never overlapping.

An entry runs its export command with its options string, as Ibexa does
(``'--no-draft --content-type=article'`` is passed to ``stream_content_data``).
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from io import StringIO
from typing import Literal

from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.utils import timezone

from cdp_bridge.conf import ScheduleEntry, cdp_settings, inspect_settings
from cdp_bridge.schedule import leases
from cdp_bridge.schedule.clock import latest_fire_time
from cdp_bridge.stream_ids import is_valid_stream_id

logger = logging.getLogger("cdp_bridge.schedule")

Status = Literal["succeeded", "failed", "not due", "busy", "refused"]


@dataclass(frozen=True)
class EntryOutcome:
    """What one invocation did with one entry."""

    entry: ScheduleEntry
    status: Status
    detail: str = ""


def command_name(entry: ScheduleEntry) -> str:
    """The export command an entry runs: ``stream_<kind>_data``."""
    return f"stream_{entry.kind}_data"


def command_arguments(entry: ScheduleEntry) -> list[str]:
    """The arguments the entry's command gets: its options, and its scope unless they name one."""
    arguments = shlex.split(entry.options)
    if not any(arg.split("=")[0] in ("--scope", "--siteaccess") for arg in arguments):
        arguments += ["--scope", entry.scope]
    return arguments


def options_problem(entry: ScheduleEntry) -> str | None:
    """Why the entry's options cannot run, or None: the system check and the runner both ask."""
    try:
        arguments = command_arguments(entry)
    except ValueError as error:
        return f"the options cannot be split into arguments ({error})."
    name = command_name(entry)
    parser = load_command_class("cdp_bridge", name).create_parser("manage.py", name)
    try:
        parsed = parser.parse_args(arguments)
    except CommandError as error:
        return f"{name} refuses the options: {str(error).removeprefix('Error: ')}."
    except SystemExit:  # --help and --version print and exit: nothing a schedule can run
        return f"{name} would only print its help or version with these options."
    stream_id = getattr(parsed, "stream_id", None)
    if stream_id and not is_valid_stream_id(stream_id):
        return f"--stream-id {stream_id!r} is not a stream id."
    scope = getattr(parsed, "scope", None)
    config = inspect_settings().settings  # read even when other keys have errors (checks ask)
    if scope and (config is None or scope not in config.scopes):
        return f"the scope {scope!r} does not exist."
    return None


def run_due_entries(now: datetime | None = None) -> list[EntryOutcome]:
    """Run every entry that is due; an entry that cannot run never stops the others.

    Each entry is judged at the time its turn comes (``now`` fixes the time for tests), so a
    long export before it neither hides a fire nor shortens the lease it takes.
    """
    owner = _lease_owner()
    return [run_if_due(entry, owner, now or timezone.now()) for entry in cdp_settings().schedule]


def run_entry_by_key(key: str, now: datetime | None = None) -> EntryOutcome | None:
    """Run the entry known by ``key`` if it is due; None when no entry has that key any more."""
    for entry in cdp_settings().schedule:
        if leases.entry_key(entry) == key:
            return run_if_due(entry, _lease_owner(), now or timezone.now())
    return None


def run_export_command(kind: str, options: str = "", scope: str = "default") -> str:
    """Run ``stream_<kind>_data`` with an options string; returns its summary line.

    Raises CommandError with what is wrong: options the command refuses, or a failed export.
    """
    entry = ScheduleEntry(kind=kind, index=0, interval="@daily", options=options, scope=scope)
    problem = options_problem(entry)
    if problem:
        raise CommandError(problem)
    return _run_command(entry)


def _run_command(entry: ScheduleEntry) -> str:
    output = StringIO()
    call_command(
        command_name(entry),
        *command_arguments(entry),
        "--no-progress",
        stdout=output,
        stderr=output,
    )
    lines = output.getvalue().strip().splitlines()
    return lines[-1] if lines else ""


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_if_due(entry: ScheduleEntry, owner: str, now: datetime) -> EntryOutcome:
    """Claim and run one entry if its interval fired since it last ran."""
    problem = options_problem(entry)
    if problem:
        logger.error("Schedule entry %s refused: %s", entry.key, problem)
        return EntryOutcome(entry, "refused", problem)
    fire_time = latest_fire_time(entry.interval, now)
    state = leases.state_of(entry, now)
    if not leases.claim(entry, fire_time, owner, now):
        busy = state.lease_expires_at is not None and state.lease_expires_at >= now
        return EntryOutcome(entry, "busy" if busy else "not due")
    logger.info("Running schedule entry %s (fired %s)", entry.key, fire_time.isoformat())
    summary = error = ""
    with leases.renewed_lease(entry, owner):
        try:
            summary = _run_command(entry)
        except CommandError as failure:
            error = str(failure)
        except Exception as failure:  # an export bug must not stop the other entries
            logger.exception("Schedule entry %s crashed", entry.key)
            error = f"{type(failure).__name__}: {failure}"
    leases.release(entry, owner, error=error)
    if error:
        return EntryOutcome(entry, "failed", error)
    return EntryOutcome(entry, "succeeded", summary)
