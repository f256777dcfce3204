"""The example site. Its Celery app loads with it when the ``celery`` extra is installed, so that
tasks sent from the site (queued webhook deliveries) reach the configured broker."""

try:
    from example_project.celery import app as celery_app
except ImportError:  # Celery is optional: without it, deliveries wait for cdp_process_deliveries
    celery_app = None

__all__ = ["celery_app"]
