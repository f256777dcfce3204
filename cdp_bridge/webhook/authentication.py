"""Reading the credentials of a request: HTTP Basic, or a bearer token.

Both are DRF authentication classes: ``authenticate()`` returns ``(ActivationClient, ...)``,
None when the request does not use its scheme, or raises AuthenticationFailed. Secrets are
compared in constant time (by ``clients``), and a failed attempt is logged with the client id
and the remote address, never with the secret. The reason is answered in the request's language
and logged in English.
"""

from __future__ import annotations

import base64
import binascii
import logging

from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from cdp_bridge.translation import in_english
from cdp_bridge.webhook.clients import ActivationClient, InvalidClient, authenticate_client
from cdp_bridge.webhook.tokens import InvalidToken, verify_token

logger = logging.getLogger("cdp_bridge.webhook")

REALM = "cdp-webhook"


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header; None without one.

    Raises ValueError (with a lazy message) when the header is Basic but cannot be decoded.
    """
    scheme, _space, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(
            gettext_lazy("the Basic credentials are not base64-encoded UTF-8.")
        ) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise ValueError(gettext_lazy("the Basic credentials must read client_id:client_secret."))
    return client_id, secret


def log_failure(request: HttpRequest, reason: object, client_id: str | None = None) -> None:
    """Log a refused request: the reason (in English), the claimed client id, the address."""
    logger.warning(
        "Webhook authentication failed from %s for client id %r: %s",
        request.META.get("REMOTE_ADDR", "?"),
        (client_id or "")[:100],
        in_english(reason),
    )


class ActivationBasicAuthentication(authentication.BaseAuthentication):
    """HTTP Basic with an activation's client id and one of its client secrets."""

    def authenticate(self, request: Request) -> tuple[ActivationClient, None] | None:
        try:
            credentials = basic_credentials(request._request)
        except ValueError as error:
            log_failure(request._request, error)
            raise exceptions.AuthenticationFailed(str(error)) from None
        if credentials is None:
            return None
        client_id, secret = credentials
        try:
            return authenticate_client(client_id, secret), None
        except InvalidClient as error:
            log_failure(request._request, error, client_id)
            raise exceptions.AuthenticationFailed(str(error)) from None

    def authenticate_header(self, request: Request) -> str:
        return f'Basic realm="{REALM}", charset="UTF-8"'


class ActivationTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` with a token from the ``cdp/webhook/token`` endpoint."""

    def authenticate(self, request: Request) -> tuple[ActivationClient, str] | None:
        scheme, _space, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        try:
            return verify_token(token), token
        except InvalidToken as error:
            log_failure(request._request, error, error.client_id)
            raise exceptions.AuthenticationFailed(str(error)) from None

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{REALM}"'
