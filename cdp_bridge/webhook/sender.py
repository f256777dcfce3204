"""Sending a delivery the way the CDP does: for tests, the docs and the example project.

Authenticates as a configured activation (HTTP Basic, or a bearer token from the token
endpoint), signs the body when the activation has a signing secret, and optionally gzips it.
``manage.py cdp_send_activation`` is its command line.
"""

from __future__ import annotations

import gzip

import requests
from django.utils.translation import gettext as _

import cdp_bridge
from cdp_bridge.conf import Activation
from cdp_bridge.http_sessions import body_excerpt
from cdp_bridge.webhook.signatures import HEADER, signature_header

ANSWER_START = 100  # characters of a body shown in a message


def send_activation(
    url: str,
    body: bytes,
    activation: Activation,
    *,
    use_token: bool = False,
    compress: bool = False,
    delivery_id: str | None = None,
    timeout: float = 60.0,
) -> requests.Response:
    """POST ``body`` to the webhook at ``url`` as ``activation``; returns the response."""
    secret = activation.client_secrets[0]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": cdp_bridge.USER_AGENT,
    }
    auth: tuple[str, str] | None = (activation.client_id, secret)
    if use_token:
        headers["Authorization"] = f"Bearer {fetch_token(url, activation, timeout)}"
        auth = None
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    if activation.signing_secret:
        headers[HEADER] = signature_header(activation.signing_secret, body)
    if delivery_id:
        headers["X-CDP-Delivery-Id"] = delivery_id
    return requests.post(url, data=body, headers=headers, auth=auth, timeout=timeout)


class TokenRefused(Exception):
    """The token endpoint answered, and gave no token; the message is its OAuth error."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        super().__init__(
            _("The token endpoint answered %(status)d %(error)s")
            % {"status": self.status, "error": oauth_error(response)}
        )


def fetch_token(url: str, activation: Activation, timeout: float = 60.0) -> str:
    """A bearer token from the token endpoint beside the webhook at ``url``.

    Raises TokenRefused when the endpoint refuses (RFC 6749 §5.2), and requests' own errors
    when it cannot be reached.
    """
    response = requests.post(
        f"{url.rstrip('/')}/token",
        data={"grant_type": "client_credentials"},
        auth=(activation.client_id, activation.client_secrets[0]),
        timeout=timeout,
    )
    try:
        token = response.json()["access_token"] if response.ok else None
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str):
        raise TokenRefused(response)
    return token


def oauth_error(response: requests.Response) -> str:
    """``error: error_description`` of an RFC 6749 §5.2 answer, or the start of another body."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        description = answer.get("error_description")
        return f"{answer['error']}: {description}" if description else answer["error"]
    return answer_start(response)


def answer_start(response: requests.Response) -> str:
    """An answer that is not the error the caller expects, on one line: its reason phrase and
    the start of its body (``Not Found: <!doctype html> <html lang="en"> …``), for a message."""
    text = body_excerpt(response, ANSWER_START)
    return f"{response.reason}: {text}" if text else str(response.reason)
