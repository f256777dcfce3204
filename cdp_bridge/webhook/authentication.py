"""Who is calling: one configured activation, by HTTP Basic or by a bearer token (SPEC §3.1).

Both are DRF authentication classes: ``authenticate()`` returns ``(ActivationClient, ...)``,
None when the request does not use its scheme, or raises AuthenticationFailed. Secrets are
compared in constant time, and a failed attempt is logged with the client id and the remote
address, never with the secret.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import ClassVar

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from cdp_bridge import conf
from cdp_bridge.conf import Activation, ScopeSettings
from cdp_bridge.webhook.tokens import InvalidToken, verify_token

logger = logging.getLogger("cdp_bridge.webhook")

REALM = "cdp-webhook"
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


class InvalidClient(Exception):
    """The client id is unknown or the secret is not one of its client secrets."""


def authenticate_client(client_id: str, secret: str) -> ActivationClient:
    """The activation whose client id and one of whose secrets were presented; InvalidClient else.

    Every configured secret is compared, matching or not, so the time taken does not reveal
    which one (if any) matched.
    """
    found = conf.find_activation(client_id)
    secrets = found[1].client_secrets if found else (_UNKNOWN_CLIENT_SECRET,)
    matched = [constant_time_compare(secret, candidate) for candidate in secrets]
    if found is None or not any(matched):
        raise InvalidClient("unknown client id or wrong client secret.")
    return ActivationClient(*found)


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header; None without one.

    Raises ValueError when the header is Basic but cannot be decoded.
    """
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the Basic credentials are not base64-encoded UTF-8.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise ValueError("the Basic credentials must read client_id:client_secret.")
    return client_id, secret


def log_failure(request: HttpRequest, reason: str, client_id: str | None = None) -> None:
    """Log a refused request: the reason, the claimed client id, the remote address."""
    logger.warning(
        "Webhook authentication failed from %s for client id %r: %s",
        request.META.get("REMOTE_ADDR", "?"),
        (client_id or "")[:100],
        reason,
    )


class ActivationBasicAuthentication(authentication.BaseAuthentication):
    """HTTP Basic with an activation's client id and one of its client secrets."""

    def authenticate(self, request: Request) -> tuple[ActivationClient, None] | None:
        try:
            credentials = basic_credentials(request._request)
        except ValueError as error:
            log_failure(request._request, str(error))
            raise exceptions.AuthenticationFailed(str(error)) from None
        if credentials is None:
            return None
        client_id, secret = credentials
        try:
            return authenticate_client(client_id, secret), None
        except InvalidClient as error:
            log_failure(request._request, str(error), client_id)
            raise exceptions.AuthenticationFailed(str(error)) from None

    def authenticate_header(self, request: Request) -> str:
        return f'Basic realm="{REALM}", charset="UTF-8"'


class ActivationTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a token from the ``cdp/webhook/token`` endpoint."""

    def authenticate(self, request: Request) -> tuple[ActivationClient, str] | None:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        try:
            scope, activation = verify_token(token)
        except InvalidToken as error:
            log_failure(request._request, str(error), error.client_id)
            raise exceptions.AuthenticationFailed(str(error)) from None
        return ActivationClient(scope, activation), token

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{REALM}"'
