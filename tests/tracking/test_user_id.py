"""The tracked user id: the same value as the user export's id, hashed or left out by setting."""

import pytest
from django.contrib.auth.models import User
from django.utils.crypto import salted_hmac

from cdp_bridge import conf
from cdp_bridge.tracking.user_id import HASHED_USER_ID_SALT, tracked_user_id
from tests.conftest import GOOD_SECRET, STREAM_ID


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["pk", "hashed"])
def test_the_tracked_user_id_is_the_user_exports_id(cdp_config, mode):
    """Activations matching on another field: the export's id and setRuid still agree."""
    from cdp_bridge.export.runner import ExportOptions, run_export
    from cdp_bridge.identity import person_identifier
    from cdp_bridge.testing import outbox

    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": 1234,
                        "tracking": {"user_id": mode},
                        "data_export": {
                            "user_data": {
                                "transport": "memory",
                                "stream_file": {"stream_id": STREAM_ID},
                            }
                        },
                        "activations": [
                            {
                                "client_id": "raptor",
                                "client_secret": GOOD_SECRET,
                                "segment_group_identifier": "cdp",
                                "person_identifier_field": "username",
                            }
                        ],
                    }
                }
            }
        }
    )
    user = User.objects.create_user("ada-lovelace")
    outbox.clear()
    run_export(ExportOptions("user", draft=False))
    (exported,) = [row["id"] for batch in outbox for row in batch.rows]
    assert exported == "ada-lovelace" == person_identifier(user, conf.get_scope())
    tracked = tracked_user_id(user, conf.get_scope())
    if mode == "pk":
        assert tracked == exported
    else:
        assert tracked == salted_hmac(HASHED_USER_ID_SALT, exported, algorithm="sha256").hexdigest()
