"""Settings of the standalone site that gunicorn serves in ``test_gunicorn.py``."""

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
