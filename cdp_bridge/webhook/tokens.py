"""Bearer tokens of the OAuth 2.0 client-credentials grant: stateless, signed, expiring.

A token names its client id and is signed (HMAC, through ``django.core.signing``) with the
client secret it was issued for. Nothing is stored: a token is valid while it is younger than
``webhook.token_ttl`` and the secret that signed it is still configured, so removing a secret
from ``client_secret`` revokes every token issued under it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core import signing

from cdp_bridge import conf
from cdp_bridge.conf import Activation, ScopeSettings

SALT = "cdp_bridge.webhook.token"


class InvalidToken(Exception):
    """The token is malformed, expired, or signed with a secret that is no longer configured."""

    def __init__(self, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id


def issue_token(activation: Activation, secret: str) -> str:
    """A bearer token for ``activation``, signed with ``secret`` (one of its client secrets)."""
    return signing.TimestampSigner(key=secret, salt=SALT).sign_object(
        {"client_id": activation.client_id}
    )


def verify_token(token: str) -> tuple[ScopeSettings, Activation]:
    """The scope and activation a valid token was issued to; InvalidToken otherwise."""
    client_id = claimed_client_id(token)
    if client_id is None:
        raise InvalidToken("the bearer token is malformed.")
    found = conf.find_activation(client_id)
    if found is None:
        raise InvalidToken("the bearer token names an unknown client id.", client_id)
    scope, activation = found
    max_age = conf.cdp_settings().webhook.token_ttl
    expired = False
    for secret in activation.client_secrets:
        signer = signing.TimestampSigner(key=secret, salt=SALT)
        try:
            signer.unsign_object(token, max_age=max_age)
        except signing.SignatureExpired:
            expired = True
        except signing.BadSignature:
            continue
        else:
            return scope, activation
    if expired:
        raise InvalidToken("the bearer token has expired.", client_id)
    raise InvalidToken(
        "the bearer token's signature does not match a configured client secret.", client_id
    )


def claimed_client_id(token: str) -> str | None:
    """The client id a token claims, read without checking its signature (to find the secrets)."""
    payload, _, _rest = token.partition(":")
    try:
        claims: Any = json.loads(signing.b64_decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    client_id = claims.get("client_id") if isinstance(claims, dict) else None
    return client_id if isinstance(client_id, str) else None
