"""Times as people read them: in the site's ``TIME_ZONE``, saying which zone it is."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

FORMAT = "%Y-%m-%d %H:%M %Z"


def local_time(moment: datetime) -> str:
    """``2026-12-01 10:00 CET``: ``moment`` in the current time zone (``TIME_ZONE``, unless a
    view activated another), with its abbreviation, so that a UTC log and an operator in
    Berlin agree on which minute it was.

    A naive datetime (a site with ``USE_TZ = False``) is already in that zone.
    """
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment).strftime(FORMAT)


def zone_name() -> str:
    """The name of the current time zone (``Europe/Berlin``): what a wall-clock time that recurs,
    in winter and in summer, is read in (an abbreviation such as CET names one season)."""
    return str(timezone.get_current_timezone())
