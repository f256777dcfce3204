"""Staying up: the ``--loop`` of ``cdp_run_schedule`` and ``cdp_process_deliveries``.

A pass runs, then the loop waits for the next. SIGTERM or Ctrl-C stops it between passes (a
second one stops the pass under way, as a single one stops a command without ``--loop``). A
database that cannot be reached, or whose tables are missing - being restored, a deployment
running its migrations - is waited out: the loop says so and tries again after the wait.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management.base import OutputWrapper
from django.core.management.color import Style
from django.db import DatabaseError, connection
from django.utils.translation import gettext as _

from cdp_bridge.management.database import database_refused
from cdp_bridge.management.output import as_styled
from cdp_bridge.management.stopping import Terminated


class CommandLoop:
    """Runs a command's passes until it is stopped, writing what happens to its output."""

    def __init__(self, stdout: OutputWrapper, stderr: OutputWrapper, style: Style) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.style = style
        self.stopping = threading.Event()

    def run(self, one_pass: Callable[[], float], idle: Callable[[], float]) -> None:
        """Run ``one_pass`` (which returns the seconds to wait) until SIGTERM or Ctrl-C.

        ``idle`` gives the seconds to wait after a pass the database refused.
        """
        previous = {
            number: signal.signal(number, self.request_stop)
            for number in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not self.stopping.is_set():
                try:
                    wait = one_pass()
                except DatabaseError as error:
                    wait = idle()
                    again = _("%(refused)s Trying again in %(seconds)s s.") % {
                        "refused": database_refused(error),
                        "seconds": f"{round(wait, 1):g}",
                    }
                    refused = self.style.WARNING(again)
                    self.stderr.write(refused, as_styled)
                    connection.close()  # the next pass connects afresh
                self.pause(wait)
        except KeyboardInterrupt:  # a second signal, in the middle of a pass
            self.stdout.write(
                self.style.WARNING(
                    _("Stopped in the middle of a pass; a full export continues with --resume.")
                )
            )
            return
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        self.stdout.write(self.style.SUCCESS(_("Stopped.")))

    def pause(self, seconds: float) -> None:
        """Wait between passes; a stop request ends the wait."""
        self.stopping.wait(seconds)

    def request_stop(self, signum: int, frame: FrameType | None) -> Any:
        if self.stopping.is_set():
            raise Terminated(_("Stopped by %(signal)s.") % {"signal": signal.Signals(signum).name})
        self.stdout.write(
            self.style.WARNING(
                _("Stopping after the current pass (send the signal again to stop now).")
            )
        )
        self.stopping.set()
