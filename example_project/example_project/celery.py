"""The example site's Celery app: workers run exports and queued deliveries; beat, the schedule.

cd example_project
export CELERY_BROKER_URL=redis://127.0.0.1:6379/0
../.venv/bin/celery -A example_project worker --loglevel=info
../.venv/bin/celery -A example_project beat --loglevel=info
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

app = Celery("example_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def add_cdp_schedule(sender: Celery, **kwargs: object) -> None:
    """Beat runs the CDP export schedule of config/cdp.yaml."""
    from cdp_bridge.celery import beat_schedule

    sender.conf.beat_schedule = {**sender.conf.beat_schedule, **beat_schedule()}
