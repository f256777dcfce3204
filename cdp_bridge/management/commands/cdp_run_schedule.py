"""``manage.py cdp_run_schedule``: run the scheduled exports that are due (cron, each minute)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cdp_bridge.conf import cdp_settings
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.management.base import TranslatedCommand
from cdp_bridge.management.database import database_refused
from cdp_bridge.management.loop import CommandLoop
from cdp_bridge.management.output import as_styled
from cdp_bridge.management.stopping import sigterm_interrupts
from cdp_bridge.schedule.clock import require_aware_times
from cdp_bridge.schedule.listing import schedule_listing
from cdp_bridge.schedule.runner import EntryOutcome, run_due_entries


class Command(TranslatedCommand):
    # One entry's problem must not stop the others: each entry is checked as it comes up, and
    # refused alone (manage.py check reports the same problems: E005, E006, E014, E019).
    requires_system_checks: list[str] = []
    help = gettext_lazy(
        "Run each scheduled export whose interval fired since it last ran. Meant for system "
        "cron every minute; --loop stays up instead, --list shows the schedule."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--list",
            action="store_true",
            dest="list_entries",
            help=_("print each entry, its interval in words, last run and next run"),
        )
        mode.add_argument(
            "--loop",
            action="store_true",
            help=_("stay up and run the schedule at the start of every minute"),
        )

    def handle(self, *args: Any, list_entries: bool, loop: bool, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        try:
            cdp_settings()
            require_aware_times()
        except ConfigurationError as error:
            raise CommandError(
                _("%(error)s Fix the configuration, then run again.") % {"error": error}
            ) from None
        if loop:
            self.stdout.write(_("Running the schedule every minute; stop with SIGTERM or Ctrl-C."))
            CommandLoop(self.stdout, self.stderr, self.style).run(
                self.one_pass, idle=_seconds_to_next_minute
            )
            return
        try:
            if list_entries:
                self.stdout.write(schedule_listing(timezone.now(), self.style))
            else:
                with sigterm_interrupts():
                    self.report(run_due_entries(), fail_on_errors=True)
        except DatabaseError as error:
            raise CommandError(database_refused(error)) from None
        except KeyboardInterrupt as error:  # Ctrl-C or SIGTERM: the export under way is recorded
            stopped = str(error) or _("Interrupted.")
            raise CommandError(
                _("%(stopped)s A full export continues with --resume.") % {"stopped": stopped}
            ) from None

    def one_pass(self) -> float:
        """Run what is due; the seconds until the start of the next minute."""
        self.report(run_due_entries(), fail_on_errors=False)
        return _seconds_to_next_minute()

    def report(self, outcomes: list[EntryOutcome], *, fail_on_errors: bool) -> None:
        failed = [outcome for outcome in outcomes if outcome.status in ("failed", "refused")]
        for outcome in outcomes:
            status = {
                "name": outcome.name,
                "status": outcome.shown_status,
                "detail": outcome.detail,
            }
            line = (
                _("%(name)s %(status)s: %(detail)s") if outcome.detail else _("%(name)s %(status)s")
            ) % status
            if outcome.status in ("failed", "refused"):
                self.stderr.write(self.style.ERROR(line), as_styled)
            elif outcome.status == "succeeded":
                self.stdout.write(self.style.SUCCESS(line))
            elif self.verbosity >= 2:
                self.stdout.write(line)
        if failed and fail_on_errors:
            raise CommandError(
                ngettext(
                    "%(count)d scheduled export did not run cleanly (%(names)s); see the line "
                    "above, and cdp_run_schedule --list.",
                    "%(count)d scheduled exports did not run cleanly (%(names)s); see the lines "
                    "above, and cdp_run_schedule --list.",
                    len(failed),
                )
                % {"count": len(failed), "names": ", ".join(outcome.name for outcome in failed)}
            )


def _seconds_to_next_minute() -> float:
    now = timezone.now()
    return (now.replace(second=0, microsecond=0) + timedelta(minutes=1) - now).total_seconds()
