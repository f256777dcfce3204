"""The optional ``X-CDP-Signature`` header: an HMAC-SHA256 of ``"<t>.<raw body>"``.

The header reads ``t=<unix seconds>,v1=<hex digest>``; several ``v1`` values may be given
(one per signing secret while it is being rotated) and any one that matches is enough. The
body is signed as it is sent, so a gzip body is signed compressed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy

from cdp_bridge.translation import interpolate_lazy

HEADER = "X-CDP-Signature"
# Unix seconds have 10 digits until the year 2286; anything much longer is no timestamp.
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(Exception):
    """The signature is missing, malformed, too old, or does not match; the message says which.

    Its message is lazy: answered in the request's language, logged in English.
    """


@dataclass(frozen=True)
class Signed:
    """A request whose signature matched: what identifies it, and until when it could be
    replayed (the end of the tolerance window)."""

    digest: str  # the SHA-256 of the matching signature: one per body and timestamp
    replayable_until: datetime


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts on ``body``: ``t=...,v1=...``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    header: str | None, secret: str, body: bytes, tolerance: int, now: float | None = None
) -> Signed:
    """What ``header`` signs, when it signs ``body`` under ``secret`` within ``tolerance``;
    SignatureError otherwise.

    The window applies both ways, so a clock running ahead cannot pre-sign requests either.
    """
    if not header:
        raise SignatureError(
            interpolate_lazy(gettext_lazy("the %(header)s header is missing."), {"header": HEADER})
        )
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _equals, value = item.strip().partition("=")
        # A longer run of digits would overflow a float, or exceed int()'s digit limit.
        if (
            key == "t"
            and value.isascii()
            and value.isdigit()
            and len(value) <= MAX_TIMESTAMP_DIGITS
        ):
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(
            interpolate_lazy(
                gettext_lazy("the %(header)s header must read t=<unix seconds>,v1=<hex digest>."),
                {"header": HEADER},
            )
        )
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            interpolate_lazy(
                gettext_lazy(
                    "the %(header)s timestamp is more than %(tolerance)d s away from the "
                    "server's clock."
                ),
                {"header": HEADER, "tolerance": tolerance},
            )
        )
    expected = compute_signature(secret, timestamp, body)
    if not any(constant_time_compare(expected, candidate) for candidate in candidates):
        raise SignatureError(
            interpolate_lazy(
                gettext_lazy("the %(header)s does not match the body."), {"header": HEADER}
            )
        )
    # The signature the server computed, not the header: adding candidates changes nothing.
    return Signed(
        digest=hashlib.sha256(expected.encode()).hexdigest(),
        replayable_until=datetime.fromtimestamp(timestamp, UTC) + timedelta(seconds=tolerance),
    )
