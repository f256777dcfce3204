"""Who calls the webhook: one configured activation, its scope, and the segment group it writes.

Nothing here knows HTTP: ``authentication`` reads the credentials from a request, and the
delivery core works from the ActivationClient it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy

from cdp_bridge import conf
from cdp_bridge.conf import Activation, ScopeSettings
from cdp_bridge.exceptions import SegmentGroupMismatch, SegmentGroupNotFound
from cdp_bridge.models import SegmentGroup
from cdp_bridge.translation import interpolate_lazy

# Compared against when the client id is unknown, so that the answer takes as long.
_UNKNOWN_CLIENT_SECRET = "cdp_bridge-unknown-client-0000000000"  # noqa: S105 (no secret)


@dataclass(frozen=True)
class ActivationClient:
    """The authenticated caller: a configured activation, and the scope it is configured in."""

    scope: ScopeSettings
    activation: Activation
    # DRF puts the caller on ``request.user``: answer what code that expects a user asks.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def client_id(self) -> str:
        return self.activation.client_id

    def __str__(self) -> str:
        return f"CDP activation {self.client_id}"

    def segment_group(self, named: str) -> SegmentGroup:
        """The activation's segment group, which a delivery must name and which must exist.

        Raises SegmentGroupMismatch when ``named`` is another group, SegmentGroupNotFound when
        the group has not been created on the site.
        """
        expected = self.activation.segment_group_identifier
        if named != expected:
            raise SegmentGroupMismatch(
                interpolate_lazy(
                    gettext_lazy(
                        "This activation writes to the segment group %(expected)s, not "
                        "%(named)s; correct the Segment Group Identifier in the CDP's activation."
                    ),
                    {"expected": repr(expected), "named": repr(named)},
                )
            )
        group = SegmentGroup.objects.filter(identifier=expected).first()
        if group is None:
            raise SegmentGroupNotFound(
                interpolate_lazy(
                    gettext_lazy(
                        "The segment group %(expected)s does not exist on this site yet; create "
                        "it in the admin (CDP bridge > Segment groups), then send the delivery "
                        "again."
                    ),
                    {"expected": repr(expected)},
                )
            )
        return group


class InvalidClient(Exception):
    """The client id is unknown or the secret is not one of its client secrets.

    Its message is lazy: answered in the request's language, logged in English.
    """


def find_client(client_id: str) -> ActivationClient | None:
    """The configured activation with ``client_id``; None when there is none."""
    found = conf.find_activation(client_id)
    return ActivationClient(*found) if found else None


def authenticate_client(client_id: str, secret: str) -> ActivationClient:
    """The activation whose client id and one of whose secrets were presented; InvalidClient else.

    Every configured secret is compared, matching or not, so the time taken does not reveal
    which one (if any) matched.
    """
    client = find_client(client_id)
    secrets = client.activation.client_secrets if client else (_UNKNOWN_CLIENT_SECRET,)
    matched = [constant_time_compare(secret, candidate) for candidate in secrets]
    if client is None or not any(matched):
        raise InvalidClient(gettext_lazy("unknown client id or wrong client secret."))
    return client
