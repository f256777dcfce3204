"""What a schedule interval may be: a five-field crontab line or a macro, that fires some day."""

from __future__ import annotations

from datetime import datetime

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CRON_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MALFORMED_HINT = gettext_lazy(
    "Use five crontab fields: minute hour day-of-month month day-of-week, e.g. '*/15 * * * *'."
)
NEVER_FIRES_HINT = gettext_lazy(
    "Pick a date that exists, e.g. '0 0 28 2 *' for the 28th of February."
)


def malformed_interval(interval: str) -> str | None:
    """Why ``interval`` is not a crontab interval croniter accepts, or None if it is one."""
    fields = interval.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0] in CRON_MACROS)):
        return _("%(interval)s is not a five-field crontab interval.") % {
            "interval": repr(interval)
        }
    if not croniter.is_valid(interval):
        return _("%(interval)s is not a valid crontab interval.") % {"interval": repr(interval)}
    return None


def never_fires(interval: str) -> str | None:
    """Why a well-formed ``interval`` never fires (``0 0 31 2 *``), or None if it fires."""
    try:
        croniter(interval, datetime(2026, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError):
        return _("%(interval)s never fires (no such date exists).") % {"interval": repr(interval)}
    return None
