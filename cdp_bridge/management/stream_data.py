"""The base of the three ``stream_<kind>_data`` commands: their options, output and errors."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.plan import DRAFT_LIMIT
from cdp_bridge.export.report import ProgressReport, summary
from cdp_bridge.export.runner import run_export
from cdp_bridge.export.sources import TYPE_OPTIONS

logger = logging.getLogger("cdp_bridge.export")


class StreamDataCommand(BaseCommand):
    """Stream one kind of data to the CDP; subclasses set ``kind`` and ``help``."""

    kind: str
    # The export checks what it uses and fails in one line naming the key; the full system
    # check (manage.py check) would print every warning of the site on every scheduled run.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--draft",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Send a sample marked as a draft (the default), or everything with --no-draft.",
        )
        parser.add_argument(
            "--draft-limit",
            type=int,
            default=DRAFT_LIMIT,
            metavar="N",
            help=f"Rows in a draft (default {DRAFT_LIMIT}).",
        )
        parser.add_argument(
            TYPE_OPTIONS[self.kind],
            dest="source",
            metavar="NAME",
            help=f"The {self.kind} source to export (a name under sources.{self.kind}).",
        )
        parser.add_argument(
            "--scope",
            "--siteaccess",
            dest="scope",
            default="default",
            metavar="NAME",
            help="The scope (Ibexa: SiteAccess) whose account and stream to use.",
        )
        parser.add_argument(
            "--stream-id",
            metavar="ID",
            help="Send to this stream instead of the scope's (one stream per type, as in Ibexa).",
        )
        parser.add_argument(
            "--batch-size", type=int, metavar="N", help="Rows per request (default 1000)."
        )
        parser.add_argument(
            "--since",
            metavar="DATETIME|last",
            help="Only rows modified after this time; 'last': after the last full export.",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Continue the failed full export after the last batch the CDP accepted.",
        )
        parser.add_argument(
            "--no-progress",
            dest="progress",
            action="store_false",
            help="No progress bar, even on a terminal.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity: int = options["verbosity"]
        report = ProgressReport(
            self.stdout,
            bar=verbosity == 1 and options["progress"] and self.stdout.isatty(),
            lines=verbosity >= 2,
            payloads=verbosity >= 3,
        )
        try:
            run = run_export(
                self.kind,
                scope=options["scope"],
                source=options["source"],
                draft=options["draft"],
                draft_limit=options["draft_limit"],
                stream_id=options["stream_id"],
                batch_size=options["batch_size"],
                since=options["since"],
                resume=options["resume"],
                observer=report,
            )
        except ExportError as error:
            report.end_line()
            raise CommandError(str(error)) from error
        except KeyboardInterrupt:
            report.end_line()
            raise CommandError("Interrupted; run again with --resume to continue.") from None
        except DatabaseError as error:
            report.end_line()
            raise CommandError(
                f"The export stopped on a database error: {error}. If tables are missing, run "
                "manage.py migrate; a full export continues with --resume."
            ) from error
        except Exception as error:  # a bug in a processor: one line here, the traceback logged
            report.end_line()
            logger.exception("The %s export stopped on an unexpected error", self.kind)
            raise CommandError(
                f"The export stopped on an unexpected {type(error).__name__}: {error}. The run "
                "is marked failed and the traceback is logged (logger cdp_bridge.export); a "
                "full export continues with --resume once it is fixed."
            ) from error
        report.end_line()
        if verbosity >= 1:
            self.stdout.write(summary(run))
