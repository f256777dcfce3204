"""``manage.py cdp_run_schedule``: run the scheduled exports that are due (cron, each minute)."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from datetime import timedelta
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone

from cdp_bridge.conf import cdp_settings
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.schedule.clock import require_aware_times
from cdp_bridge.schedule.listing import schedule_listing
from cdp_bridge.schedule.runner import EntryOutcome, run_due_entries


class Command(BaseCommand):
    # One entry's problem must not stop the others: each entry is checked as it comes up, and
    # refused alone (cdp_bridge.E019 reports the same problems in manage.py check).
    requires_system_checks: list[str] = []
    help = (
        "Run each scheduled export whose interval fired since it last ran. Meant for system "
        "cron every minute; --loop stays up instead, --list shows the schedule."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--list",
            action="store_true",
            dest="list_entries",
            help="print each entry, its interval in words, last run and next run",
        )
        mode.add_argument(
            "--loop",
            action="store_true",
            help="stay up and run the schedule at the start of every minute",
        )

    def handle(self, *args: Any, list_entries: bool, loop: bool, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        try:
            cdp_settings()
            require_aware_times()
        except ConfigurationError as error:
            raise CommandError(f"{error} Fix the configuration, then run again.") from None
        if loop:
            self.run_forever()
            return
        try:
            if list_entries:
                self.stdout.write(schedule_listing(timezone.now()))
            else:
                self.report(run_due_entries(), fail_on_errors=True)
        except DatabaseError as error:
            raise CommandError(
                f"The database refused: {error}".strip() + " Check that it is reachable, and "
                "run manage.py migrate if the cdp_bridge tables are missing."
            ) from None

    def report(self, outcomes: list[EntryOutcome], *, fail_on_errors: bool) -> None:
        failed = [outcome for outcome in outcomes if outcome.status in ("failed", "refused")]
        for outcome in outcomes:
            line = f"{outcome.name} {outcome.status}"
            line += f": {outcome.detail}" if outcome.detail else ""
            if outcome.status in ("failed", "refused"):
                self.stderr.write(line)
            elif outcome.status == "succeeded" or self.verbosity >= 2:
                self.stdout.write(line)
        if failed and fail_on_errors:
            keys = ", ".join(outcome.name for outcome in failed)
            raise CommandError(
                f"{len(failed)} scheduled export(s) did not run cleanly ({keys}); "
                "see the lines above, and cdp_run_schedule --list."
            )

    def run_forever(self) -> None:
        """Wake at the start of each minute until SIGTERM or SIGINT, then stop between runs."""
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            self.stdout.write("Stopping after the current run.")
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write("Running the schedule every minute; stop with SIGTERM or Ctrl-C.")
        while not stop.is_set():
            try:
                self.report(run_due_entries(), fail_on_errors=False)
            except DatabaseError as error:  # stay up: the next minute tries again
                self.stderr.write(f"The database refused, trying again next minute: {error}")
                connection.close()
            now = timezone.now()
            next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            stop.wait((next_minute - now).total_seconds())
        self.stdout.write("Stopped.")
