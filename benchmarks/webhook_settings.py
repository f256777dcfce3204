"""Settings for the webhook benchmark's live server: the test settings, one activation."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 60  # persistent connections, as a production site has

CLIENT_ID = "benchmark-activation"
CLIENT_SECRET = "benchmark-secret-0123456789abcdef"  # noqa: S105 (a benchmark)
GROUP = "benchmark_audiences"

CDP_BRIDGE = {
    "system": {
        "default": {
            "cdp": {
                "activations": [
                    {
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "segment_group_identifier": GROUP,
                    }
                ]
            }
        }
    },
    "bulk_async_threshold": 100,
}
