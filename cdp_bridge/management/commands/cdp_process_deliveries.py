"""``manage.py cdp_process_deliveries [--loop]``: apply the webhook deliveries that were queued."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cdp_bridge import conf
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.management.base import TranslatedCommand
from cdp_bridge.management.database import database_refused
from cdp_bridge.management.loop import CommandLoop
from cdp_bridge.models import WebhookDelivery
from cdp_bridge.webhook.queue import process_queued


class Command(TranslatedCommand):
    # Deliveries answered 202 must not wait for an unrelated configuration problem to be fixed;
    # a problem that stops this command is reported by it, in one line.
    requires_system_checks: list[str] = []
    help = gettext_lazy(
        "Apply queued webhook deliveries (those touching bulk_async_threshold members or "
        "more), oldest first. With --loop, keep waiting for new ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help=_("Stay up; stop with SIGTERM or Ctrl-C.")
        )
        parser.add_argument(
            "--interval", type=float, default=5.0, help=_("Seconds between looks (default 5).")
        )
        parser.add_argument("--limit", type=int, help=_("At most this many deliveries a pass."))

    def handle(
        self, *args: Any, loop: bool, interval: float, limit: int | None, **options: Any
    ) -> None:
        if loop:
            self.stdout.write(
                _(
                    "Applying queued deliveries, looking every %(interval)s s; stop with "
                    "SIGTERM or Ctrl-C."
                )
                % {"interval": f"{interval:g}"}
            )
            CommandLoop(self.stdout, self.stderr, self.style).run(
                lambda: 0.0 if self.run_once(limit, quiet=True) else interval,
                idle=lambda: interval,
            )
            return
        try:
            self.run_once(limit, quiet=False)
        except DatabaseError as error:
            raise CommandError(database_refused(error)) from None

    def run_once(self, limit: int | None, *, quiet: bool) -> int:
        """One pass over the queue: how many deliveries it processed."""
        try:
            conf.cdp_settings()  # a broken configuration stops here, not delivery by delivery
            processed = process_queued(limit)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        count = len(processed)
        applied = sum(record.status == WebhookDelivery.Status.APPLIED for record in processed)
        if processed or not quiet:
            line = ngettext(
                "Processed %(count)d queued delivery: %(applied)d applied, %(failed)d failed "
                "(see the admin's webhook deliveries).",
                "Processed %(count)d queued deliveries: %(applied)d applied, %(failed)d failed "
                "(see the admin's webhook deliveries).",
                count,
            ) % {"count": count, "applied": applied, "failed": count - applied}
            self.stdout.write((self.style.WARNING if applied < count else self.style.SUCCESS)(line))
        return count
