"""Settings for the standalone site that real cron ticks and Celery workers run in."""

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
            }
        }
    },
    "data_export": {"schedule": {"user": [{"interval": "* * * * *", "options": "--no-draft"}]}},
}
