"""The Celery beat entry of the export schedule, for sites that run exports on a pool of workers.

Use ``app.conf.beat_schedule = beat_schedule()`` in your Celery module, with
``app.conf.timezone = settings.TIME_ZONE``. It is ONE entry, sending ``cdp_bridge.run_schedule``
every minute; the task reads the configuration afresh each time, so an entry added, changed or
removed in the YAML file is seen within a minute, without restarting beat. The task claims
each due entry's fire through the same database lease as ``cdp_run_schedule``, so duplicate or
late messages, several beats, or workers on several machines never run an entry twice or in
overlap.
"""

from __future__ import annotations

from typing import Any

RUN_SCHEDULE = "cdp_bridge.run_schedule"
RUN_SCHEDULE_ENTRY = "cdp_bridge.run_schedule_entry"
BEAT_ENTRY = "cdp_bridge schedule"
# A tick not taken by a worker within the minute is dropped: the next one does its work, and
# a pool busy with a long export does not pile up a queue of stale ticks.
TICK_EXPIRES = 55.0


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The one beat entry of the schedule: ``cdp_bridge.run_schedule`` at every minute."""
    from celery.schedules import crontab

    return {
        BEAT_ENTRY: {
            "task": RUN_SCHEDULE,
            "schedule": crontab(),  # every minute, at its start
            "options": {"expires": TICK_EXPIRES},
        }
    }
