"""Settings of the standalone site that real cron ticks, a web server and Celery workers run."""

from tests.settings import *  # noqa: F403
from tests.settings import env

CDP_BRIDGE = {
    "system": {
        "default": {
            "cdp": {
                "account_number": 123456,
                "data_export": {
                    "user_data": {
                        "transport": "file",
                        "file": {"directory": env.str("CDP_EXPORT_DIR")},
                        "stream_file": {"stream_id": "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"},
                    }
                },
                "activations": [
                    {
                        "client_id": "raptor",
                        "client_secret": "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5",
                        "segment_group_identifier": "cdp_audiences",
                    }
                ],
            }
        }
    },
    "bulk_async_threshold": 2,
    "webhook": {"queue": "celery"},
    "data_export": {
        "schedule": {
            "user": [
                {"interval": "* * * * *", "options": env.str("CDP_SCHEDULE_OPTIONS", "--no-draft")},
                *(
                    [{"interval": "* * * * *", "options": "--no-draft"}]
                    if "CDP_SCHEDULE_OPTIONS" in env.ENVIRON
                    else []
                ),
            ]
        }
    },
}

CELERY_BROKER_URL = env.str("REDIS_URL", default="memory://")
# A queue of the test's own, so that nothing else on the broker takes its messages.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="cdp_bridge_tests")

from tests.celery_app import app as celery_app  # noqa: E402, F401  (as a project's __init__ does)
