"""Celery beat entries for the export schedule, for sites that run exports on a pool of workers.

Use ``app.conf.beat_schedule = beat_schedule()`` in your Celery module, with
``app.conf.timezone = settings.TIME_ZONE``. Beat only says "this entry may be due"; the task
claims the entry's fire through the same database lease as ``cdp_run_schedule``, so duplicate
or late messages, several beats, or workers on several machines never run an entry twice or
in overlap.
"""

from __future__ import annotations

from typing import Any

from cdp_bridge.conf import cdp_settings
from cdp_bridge.schedule.clock import cron_fields
from cdp_bridge.schedule.leases import entry_key

RUN_SCHEDULED_EXPORT = "cdp_bridge.run_scheduled_export"


def beat_schedule() -> dict[str, dict[str, Any]]:
    """One beat entry per ``data_export.schedule`` entry, firing on its crontab interval."""
    from celery.schedules import crontab

    entries: dict[str, dict[str, Any]] = {}
    for entry in cdp_settings().schedule:
        minute, hour, day, month, weekday = cron_fields(entry.interval)
        name = f"cdp_bridge {entry.key}: stream_{entry.kind}_data {entry.options}".rstrip()
        entries[name] = {
            "task": RUN_SCHEDULED_EXPORT,
            "schedule": crontab(
                minute=minute,
                hour=hour,
                day_of_month=day,
                month_of_year=month,
                day_of_week=weekday,
            ),
            "args": (entry_key(entry),),
        }
    return entries
