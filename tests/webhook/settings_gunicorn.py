"""Settings of the standalone site that gunicorn serves in ``test_gunicorn.py``."""

import os

from tests.settings import *  # noqa: F403

CDP_BRIDGE = {
    "system": {
        "default": {
            "cdp": {
                "activations": [
                    {
                        "client_id": "raptor",
                        "client_secret": "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5",
                        "segment_group_identifier": "cdp_audiences",
                    }
                ]
            }
        }
    },
    "webhook": {"max_body_bytes": 64 * 1024},
}

# Every record of the site, one line each, in the file the test reads.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ["CDP_TEST_LOG_FILE"],
            "formatter": "line",
        }
    },
    "root": {"handlers": ["file"], "level": "INFO"},
}
