"""How a logged-in user is known to the CDP's tracking (``tracking.user_id``).

Raptor's ``setRuid``, the ``p7`` parameter of every event and the ``ruid`` of a server-side
request all carry this one value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.crypto import salted_hmac

from cdp_bridge.conf import ScopeSettings
from cdp_bridge.identity import person_identifier

if TYPE_CHECKING:
    from cdp_bridge.segmentation import AnyUser

HASHED_USER_ID_SALT = "cdp_bridge.tracking.user_id"


def tracked_user_id(user: AnyUser | None, scope: ScopeSettings) -> str | None:
    """How a logged-in user is known to the CDP: the user export's id, a keyed hash of it, or not.

    The id is the scope's person identifier (``person_identifier_field``, the primary key by
    default), so the CDP joins tracked events to the profile the user export sent. A user whose
    identifier is empty is not identified (the export sends no row for them either).
    """
    mode = scope.tracking.user_id
    if mode == "none" or user is None or not user.is_authenticated:
        return None
    user_id = person_identifier(user, scope)
    if user_id is None:
        return None
    if mode == "hashed":
        # Keyed with SECRET_KEY: stable while the key is, and not reversible by trying every id.
        return salted_hmac(HASHED_USER_ID_SALT, user_id, algorithm="sha256").hexdigest()
    return user_id
