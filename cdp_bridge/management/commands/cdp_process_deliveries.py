"""``manage.py cdp_process_deliveries [--loop]``: apply the webhook deliveries that were queued."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from cdp_bridge import conf
from cdp_bridge.exceptions import DATABASE_UNAVAILABLE, ConfigurationError
from cdp_bridge.models import WebhookDelivery
from cdp_bridge.webhook.queue import process_queued


class Command(BaseCommand):
    # Deliveries answered 202 must not wait for an unrelated configuration problem to be fixed;
    # a problem that stops this command is reported by it, in one line.
    requires_system_checks: list[str] = []
    help = (
        "Apply queued webhook deliveries (those touching bulk_async_threshold members or "
        "more), oldest first. With --loop, keep waiting for new ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Stay up; stop with Ctrl-C.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between looks (default 5)."
        )
        parser.add_argument("--limit", type=int, help="At most this many deliveries a pass.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            while True:
                processed = self.run_once(options["limit"], quiet=options["loop"])
                if not options["loop"]:
                    return
                if not processed:
                    time.sleep(options["interval"])
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def run_once(self, limit: int | None, *, quiet: bool) -> int:
        """One pass over the queue; in a loop, an unavailable database is waited out."""
        try:
            conf.cdp_settings()  # a broken configuration stops here, not delivery by delivery
            processed = process_queued(limit)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        except DATABASE_UNAVAILABLE as error:
            if not quiet:
                raise CommandError(
                    f"The database is unavailable: {error}".strip() + ". Check that it is "
                    "reachable, and run manage.py migrate if the cdp_bridge tables are missing."
                ) from None
            self.stderr.write(f"The database is unavailable, trying again: {error}".strip())
            connection.close()
            return 0
        except DatabaseError as error:  # e.g. the tables do not exist yet
            raise CommandError(
                f"The database refused: {error}".strip() + " Run manage.py migrate if the "
                "cdp_bridge tables are missing."
            ) from None
        applied = sum(record.status == WebhookDelivery.Status.APPLIED for record in processed)
        if processed or not quiet:
            self.stdout.write(
                f"Processed {len(processed)} queued deliveries: {applied} applied, "
                f"{len(processed) - applied} failed (see the admin's webhook deliveries)."
            )
        return len(processed)
