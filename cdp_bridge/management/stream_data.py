"""The base of the three ``stream_<kind>_data`` commands: their options, output and errors.

Their options are parsed here into the export's own ``ExportOptions``, from the command line
or, by ``parse_options()``, from a schedule entry's options string, the same way for both.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.management import load_command_class
from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _

from cdp_bridge.conf import inspect_settings
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.plan import DRAFT_LIMIT, ExportOptions, check_options
from cdp_bridge.export.report import ProgressReport, summary
from cdp_bridge.export.runner import run_export
from cdp_bridge.export.sources import TYPE_OPTIONS
from cdp_bridge.management.base import TranslatedCommand
from cdp_bridge.management.database import database_refused
from cdp_bridge.management.stopping import sigterm_interrupts

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

logger = logging.getLogger("cdp_bridge.export")
# One sentence per kind, so that each reads whole in every language.
SOURCE_HELP = {
    "user": lambda: _("The user source to export (a name under sources.user)."),
    "content": lambda: _("The content source to export (a name under sources.content)."),
    "product": lambda: _("The product source to export (a name under sources.product)."),
}


class StreamDataCommand(TranslatedCommand):
    """Stream one kind of data to the CDP; subclasses set ``kind`` and ``help``."""

    kind: str
    help: str | StrPromise = ""  # set by each command (gettext_lazy)
    # The export checks what it uses and fails in one line naming the key; the full system
    # check (manage.py check) would print every warning of the site on every scheduled run.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        # Given together, neither may silently win: a full export never happens by accident.
        # Neither has a default of its own (None: a draft), because argparse only notices a
        # conflict between options whose values differ from their defaults.
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--draft",
            action="store_true",
            default=None,
            help=_("Send a sample marked as a draft (the default)."),
        )
        mode.add_argument(
            "--no-draft",
            dest="draft",
            action="store_false",
            default=None,
            help=_("Send everything, not marked as a draft."),
        )
        parser.add_argument(
            "--draft-limit",
            type=int,
            default=DRAFT_LIMIT,
            metavar="N",
            help=_("Rows in a draft (default %(limit)d).") % {"limit": DRAFT_LIMIT},
        )
        parser.add_argument(
            TYPE_OPTIONS[self.kind],
            dest="source",
            metavar="NAME",
            help=SOURCE_HELP[self.kind](),
        )
        parser.add_argument(
            "--scope",
            "--siteaccess",
            dest="scope",
            default="default",
            metavar="NAME",
            help=_("The scope (Ibexa: SiteAccess) whose account and stream to use."),
        )
        parser.add_argument(
            "--stream-id",
            metavar="ID",
            help=_(
                "Send to this stream instead of the scope's (one stream per type, as in Ibexa)."
            ),
        )
        parser.add_argument(
            "--batch-size", type=int, metavar="N", help=_("Rows per request (default 1000).")
        )
        parser.add_argument(
            "--since",
            metavar="DATETIME|last",
            help=_("Only rows modified after this time; 'last': after the last full export."),
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help=_("Continue the failed full export after the last batch the CDP accepted."),
        )
        parser.add_argument(
            "--no-progress",
            dest="progress",
            action="store_false",
            help=_("No progress bar, even on a terminal."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity: int = options["verbosity"]
        with ProgressReport(
            self.stdout,
            self.style,
            notes=verbosity >= 1,
            bar=verbosity == 1 and options["progress"] and self.stdout.isatty(),
            lines=verbosity >= 2,
            payloads=verbosity >= 3,
        ) as report:
            try:
                with sigterm_interrupts():
                    run = run_export(export_options(self.kind, options), report)
            except (Exception, KeyboardInterrupt) as error:
                raise CommandError(self.failure_line(error)) from error
            report.finished(run)
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(summary(run)))

    def failure_line(self, error: BaseException) -> str:
        """The one line that ends a run that did not succeed (it is recorded as it ended)."""
        if isinstance(error, ExportError):
            return str(error)
        if isinstance(error, KeyboardInterrupt):  # Ctrl-C, or SIGTERM
            stopped = str(error) or _("Interrupted.")
            return _("%(stopped)s A full export continues with --resume.") % {"stopped": stopped}
        if isinstance(error, DatabaseError):
            return _("The export stopped: %(reason)s A full export continues with --resume.") % {
                "reason": database_refused(error)
            }
        # A bug in a processor: one line here, the traceback in the log.
        logger.exception("The %s export stopped on an unexpected error", self.kind)
        return _(
            "The export stopped on an unexpected %(type)s: %(error)s. The run is marked failed "
            "and the traceback is logged (logger cdp_bridge.export); a full export continues "
            "with --resume once it is fixed."
        ) % {"type": type(error).__name__, "error": error}


def export_options(kind: str, parsed: Mapping[str, Any]) -> ExportOptions:
    """The export's options from the command's parsed arguments."""
    return ExportOptions(
        kind,
        scope=parsed["scope"],
        source=parsed["source"],
        draft=parsed["draft"] is not False,
        draft_limit=parsed["draft_limit"],
        stream_id=parsed["stream_id"],
        batch_size=parsed["batch_size"],
        since=parsed["since"],
        resume=parsed["resume"],
    )


def parse_options(kind: str, options: str, *, scope: str = "default") -> ExportOptions:
    """An options string (a schedule entry's), parsed as ``stream_<kind>_data`` parses its own.

    ``scope`` applies unless the options name ``--scope`` (``--siteaccess``). What the command
    would refuse, and what no configuration makes right (a malformed ``--stream-id``, a scope
    that does not exist), raises ExportError saying so.
    """
    name = f"stream_{kind}_data"
    try:
        arguments = shlex.split(options)
    except ValueError as error:
        raise ExportError(
            _("the options cannot be split into arguments (%(error)s).") % {"error": error}
        ) from None
    parser = load_command_class("cdp_bridge", name).create_parser("manage.py", name)
    parser.set_defaults(scope=scope)
    process_options = _mark_process_options(parser)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # --help prints before it exits
            parsed = parser.parse_args(arguments)
    except CommandError as error:
        message = str(error).removeprefix("Error: ")
        raise ExportError(
            _("%(command)s refuses the options: %(message)s.")
            % {"command": name, "message": message}
        ) from None
    except SystemExit:  # --help and --version print and exit: nothing a schedule can run
        raise ExportError(
            _("%(command)s would only print its help or version with these options.")
            % {"command": name}
        ) from None
    for option in process_options:
        if getattr(parsed, option.dest) is not _NOT_GIVEN:
            raise ExportError(
                _(
                    "%(option)s is an option of manage.py itself, not of the export: a "
                    "scheduled export runs inside the process of cdp_run_schedule (or of a "
                    "Celery worker), where it would change nothing or the wrong thing. Remove "
                    "it from the options."
                )
                % {"option": option.option_strings[-1]}
            )
    export = export_options(kind, vars(parsed))
    check_options(export)
    config = inspect_settings().settings  # read even when other keys have errors (checks ask)
    if config is None or export.scope not in config.scopes:
        raise ExportError(_("the scope %(name)s does not exist.") % {"name": repr(export.scope)})
    return export


# The options every manage.py command has: they set up the process (its settings, import path,
# output, tracebacks) or its system checks, which a scheduled export does not start.
MANAGE_PY_OPTIONS = (
    "--settings",
    "--pythonpath",
    "--traceback",
    "--verbosity",
    "--no-color",
    "--force-color",
    "--skip-checks",
)
_NOT_GIVEN = object()


def _mark_process_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """manage.py's own options in ``parser``, made to tell when they are given (any spelling:
    ``-v 2``, ``-v2``, ``--verb 2``); ``--skip-checks`` is added where the command lacks it, so
    that it is named too rather than reported as unknown."""
    actions = {option: action for action in parser._actions for option in action.option_strings}
    marked = []
    for option in MANAGE_PY_OPTIONS:
        action = actions.get(option) or parser.add_argument(option, action="store_true")
        action.default = _NOT_GIVEN
        marked.append(action)
    return marked
