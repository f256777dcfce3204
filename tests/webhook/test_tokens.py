"""Bearer tokens: signed with one client secret, expiring, never from the future or a site key."""

import base64
import json
import time

import pytest
from django.core import signing

from cdp_bridge import conf
from cdp_bridge.webhook.tokens import (
    CLOCK_SKEW,
    MAX_TOKEN_LENGTH,
    SALT,
    InvalidToken,
    claimed_client_id,
    issue_token,
    verify_token,
)

from ..conftest import GOOD_SECRET, OTHER_SECRET
from .conftest import CLIENT_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def activation(configure):
    return conf.find_activation(CLIENT_ID)[1]


@pytest.fixture
def clock(monkeypatch):
    """Set the time tokens are issued and checked at."""
    now = [float(int(time.time()))]
    monkeypatch.setattr("cdp_bridge.webhook.tokens.time.time", lambda: now[0])
    monkeypatch.setattr("django.core.signing.time.time", lambda: now[0])
    return now


def refusal(token):
    with pytest.raises(InvalidToken) as refused:
        verify_token(token)
    return str(refused.value)


def test_a_token_from_either_secret_names_its_activation(activation):
    for secret in (GOOD_SECRET, OTHER_SECRET):
        assert verify_token(issue_token(activation, secret)).client_id == CLIENT_ID


def test_a_token_lives_token_ttl_seconds(activation, clock):
    token = issue_token(activation, GOOD_SECRET)
    clock[0] += 3600
    verify_token(token)
    clock[0] += 2
    assert refusal(token) == "the bearer token has expired."


def test_a_token_dated_ahead_of_the_clock_is_accepted_only_within_the_skew(activation, clock):
    clock[0] += CLOCK_SKEW - 5
    slightly_ahead = issue_token(activation, GOOD_SECRET)
    clock[0] += 20
    from_the_future = issue_token(activation, GOOD_SECRET)
    clock[0] -= CLOCK_SKEW + 15
    verify_token(slightly_ahead)
    assert refusal(from_the_future) == "the bearer token is dated in the future."


def test_a_token_signed_with_anything_but_a_client_secret_is_refused(activation, settings):
    settings.SECRET_KEY_FALLBACKS = ["a-retired-site-key-0123456789"]
    for key in (settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS[0], "k" * 32):
        forged = signing.TimestampSigner(key=key, salt=SALT).sign_object({"client_id": CLIENT_ID})
        assert "does not match a configured client secret" in refusal(forged)


def test_what_a_token_claims_is_read_without_trusting_it():
    def token(claims):
        encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{encoded}:ts:sig"

    assert claimed_client_id(token({"client_id": "c"})) == "c"
    assert claimed_client_id(token({"client_id": 5})) is None
    assert claimed_client_id(token(["c"])) is None
    assert claimed_client_id("not base64 at all!:x") is None
    nested = base64.urlsafe_b64encode(b"[" * 700).decode()
    assert claimed_client_id(f"{nested}:x:y") is None
    assert claimed_client_id(token({"client_id": "c" * MAX_TOKEN_LENGTH})) is None


def test_a_token_for_an_unknown_client_names_it(configure):
    forged = signing.TimestampSigner(key=GOOD_SECRET, salt=SALT).sign_object({"client_id": "x"})
    with pytest.raises(InvalidToken, match="unknown client id") as refused:
        verify_token(forged)
    assert refused.value.client_id == "x"
