"""The Celery app of the standalone test site, configured from its Django settings."""

from celery import Celery

app = Celery("cdp_bridge_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["cdp_bridge"])
