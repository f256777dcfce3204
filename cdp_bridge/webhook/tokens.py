"""Bearer tokens of the OAuth 2.0 client-credentials grant: stateless, signed, expiring.

A token names its client id and is signed (HMAC, through ``django.core.signing``) with the
client secret it was issued for, and with nothing else: never with the site's ``SECRET_KEY``
or its ``SECRET_KEY_FALLBACKS``, so that whoever holds a retired site key cannot mint tokens.
Nothing is stored: a token is valid while it is younger than ``webhook.token_ttl`` (and not
dated ahead of the clock by more than CLOCK_SKEW), and the secret that signed it is still
configured, so removing a secret from ``client_secret`` revokes every token issued under it.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.core import signing
from django.utils.translation import gettext_lazy

from cdp_bridge import conf
from cdp_bridge.conf import Activation
from cdp_bridge.webhook.clients import ActivationClient, find_client

SALT = "cdp_bridge.webhook.token"
# How far ahead of this server's clock another server of the site may have issued a token.
CLOCK_SKEW = 60
# A token for the longest client id (255 characters) is about 420 characters long.
MAX_TOKEN_LENGTH = 1024


class InvalidToken(Exception):
    """The token is malformed, expired, or signed with a secret that is no longer configured.

    Its message is lazy: answered in the request's language, logged in English.
    """

    def __init__(self, message: object, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class TokenFromTheFuture(signing.BadSignature):
    """A well-signed token whose timestamp is ahead of the clock by more than CLOCK_SKEW."""


class MalformedToken(signing.BadSignature):
    """A well-signed value that is not a token: its timestamp is missing or not base62."""


class TokenSigner(signing.TimestampSigner):
    """Django's TimestampSigner keyed with one client secret only, refusing future timestamps."""

    def __init__(self, secret: str) -> None:
        super().__init__(key=secret, salt=SALT, fallback_keys=[])

    def unsign(self, value: str, max_age: float | timedelta | None = None) -> str:
        result = signing.Signer.unsign(self, value)
        payload, sep, timestamp = result.rpartition(self.sep)
        try:
            if not sep:
                raise ValueError("no timestamp")
            age = time.time() - signing.b62_decode(timestamp)
        except (ValueError, IndexError):  # b62_decode's errors for "" and non-base62 digits
            raise MalformedToken(gettext_lazy("the bearer token is malformed.")) from None
        if age < -CLOCK_SKEW:
            raise TokenFromTheFuture(gettext_lazy("the bearer token is dated in the future."))
        if isinstance(max_age, timedelta):
            max_age = max_age.total_seconds()
        if max_age is not None and age > max_age:
            raise signing.SignatureExpired(f"the bearer token is {age:.0f} s old.")
        return payload


def issue_token(activation: Activation, secret: str) -> str:
    """A bearer token for ``activation``, signed with ``secret`` (one of its client secrets)."""
    return TokenSigner(secret).sign_object({"client_id": activation.client_id})


def verify_token(token: str) -> ActivationClient:
    """The activation a valid token was issued to; InvalidToken otherwise."""
    client_id = claimed_client_id(token)
    if client_id is None:
        raise InvalidToken(gettext_lazy("the bearer token is malformed."))
    client = find_client(client_id)
    if client is None:
        raise InvalidToken(gettext_lazy("the bearer token names an unknown client id."), client_id)
    max_age = conf.cdp_settings().webhook.token_ttl
    refusal: object = gettext_lazy(
        "the bearer token's signature does not match a configured client secret."
    )
    for secret in client.activation.client_secrets:
        try:
            TokenSigner(secret).unsign_object(token, max_age=max_age)
        except signing.SignatureExpired:
            refusal = gettext_lazy("the bearer token has expired.")
        except (TokenFromTheFuture, MalformedToken) as error:
            refusal = error.args[0]
        except signing.BadSignature:
            continue
        else:
            return client
    raise InvalidToken(refusal, client_id)


def claimed_client_id(token: str) -> str | None:
    """The client id a token claims, read without checking its signature (to find the secrets).

    None for anything that is not a token's payload, however it is built.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    payload, _, _rest = token.partition(":")
    try:
        claims: Any = json.loads(signing.b64_decode(payload.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):
        return None
    client_id = claims.get("client_id") if isinstance(claims, dict) else None
    return client_id if isinstance(client_id, str) else None
