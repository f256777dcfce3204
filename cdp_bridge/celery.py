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

RUN_SCHEDULE_ENTRY = "cdp_bridge.run_schedule_entry"


def beat_schedule() -> dict[str, dict[str, Any]]:
    """One beat entry per ``data_export.schedule`` entry, firing on its crontab interval.

    An entry the configuration refuses (an invalid interval) has no beat entry; the others do.
    """
    from celery.schedules import crontab

    entries: dict[str, dict[str, Any]] = {}
    for entry in cdp_settings().schedule:
        minute, hour, day, month, weekday = cron_fields(entry.interval)
        name = f"cdp_bridge {entry.name}: stream_{entry.kind}_data {entry.options}".rstrip()
        entries[name] = {
            "task": RUN_SCHEDULE_ENTRY,
            "schedule": crontab(
                minute=minute,
                hour=hour,
                day_of_month=day,
                month_of_year=month,
                day_of_week=weekday,
            ),
            "args": (entry.key,),
        }
    return entries
