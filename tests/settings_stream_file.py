"""The standalone site, exporting users to a Streaming API on loopback (CDP_STREAM_BASE_URL)."""

from tests.settings_standalone import *  # noqa: F403
from tests.settings_standalone import CDP_BRIDGE, env

CDP_BRIDGE = {
    **CDP_BRIDGE,
    "system": {
        "default": {
            "cdp": {
                "account_number": 123456,
                "stream_base_url": env.str("CDP_STREAM_BASE_URL"),
                "data_export": {
                    "user_data": {
                        "stream_file": {
                            "stream_id": "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d",
                            "max_retry_after": 3600,
                            "retry_budget": 7200,
                        }
                    }
                },
            }
        }
    },
}
