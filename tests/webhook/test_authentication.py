"""Authentication: Basic with secret lists, bearer tokens, the X-CDP-Signature."""

import base64
import gzip
import json
import logging
import time
from datetime import UTC, datetime
from unittest.mock import patch
from urllib.parse import urlencode

import pytest
from django.core import signing

from cdp_bridge.models import WebhookSignature
from cdp_bridge.webhook.signatures import signature_header
from cdp_bridge.webhook.tokens import claimed_client_id

from ..conftest import GOOD_SECRET, OTHER_SECRET
from .conftest import (
    CLIENT_ID,
    SIGNING_SECRET,
    WEBHOOK,
    audience,
    basic,
    delivery,
    ids,
    post,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/cdp/webhook/token"


def token_request(client, form, **headers):
    """POST the token endpoint as RFC 6749 says: an application/x-www-form-urlencoded body."""
    return client.post(
        TOKEN_URL, urlencode(form), content_type="application/x-www-form-urlencoded", **headers
    )


def get_token(client, **form):
    response = token_request(
        client, {"grant_type": "client_credentials", **form}, HTTP_AUTHORIZATION=basic()
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


# -- HTTP Basic ------------------------------------------------------------------------------------


def test_every_listed_secret_is_accepted_so_secrets_rotate_without_downtime(client, group):
    for secret in (GOOD_SECRET, OTHER_SECRET):
        assert post(client, delivery(audience()), auth=basic(secret=secret)).status_code == 200


def test_a_removed_secret_stops_working(client, group, configure):
    configure({"client_secret": OTHER_SECRET})
    assert post(client, delivery(), auth=basic(secret=GOOD_SECRET)).status_code == 401
    assert post(client, delivery(), auth=basic(secret=OTHER_SECRET)).status_code == 200


def test_the_client_id_is_matched_exactly(client, group):
    assert post(client, delivery(), auth=basic(client_id=CLIENT_ID.upper())).status_code == 401
    assert post(client, delivery(), auth=basic(client_id=f"{CLIENT_ID} ")).status_code == 401


def test_a_secret_containing_a_colon_is_read_whole(client, group, configure):
    secret = "with:colon-in-it-0123456789abcdef"
    configure({"client_secret": secret})
    assert post(client, delivery(), auth=basic(secret=secret)).status_code == 200


# -- OAuth 2.0 client credentials ------------------------------------------------------------------


def test_the_token_endpoint_issues_a_bearer_token_that_authenticates(client, group):
    response = token_request(
        client, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic()
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    bearer = f"Bearer {body['access_token']}"
    assert post(client, delivery(audience()), auth=bearer).status_code == 200
    assert client.head(WEBHOOK, HTTP_AUTHORIZATION=bearer).status_code == 200


def test_the_client_may_authenticate_with_form_fields(client, group):
    response = token_request(
        client,
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": GOOD_SECRET},
    )
    assert response.status_code == 200


def test_a_token_carries_no_secret(client, group):
    token = get_token(client)
    payload = base64.urlsafe_b64decode(token.split(":")[0] + "==")
    assert json.loads(payload) == {"client_id": CLIENT_ID}
    assert GOOD_SECRET not in token
    assert claimed_client_id(token) == CLIENT_ID


def test_a_token_expires_after_token_ttl(client, group, configure, monkeypatch):
    configure(webhook={"token_ttl": 60})
    token = get_token(client)
    later = time.time() + 61
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = post(client, delivery(), auth=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "the bearer token has expired."


def test_a_token_stops_working_when_its_secret_is_removed(client, group, configure):
    token = get_token(client)  # issued under GOOD_SECRET, the secret Basic presented
    configure({"client_secret": OTHER_SECRET})
    response = post(client, delivery(), auth=f"Bearer {token}")
    assert response.status_code == 401
    assert "does not match a configured client secret" in response.json()["error"]["message"]


def test_a_tampered_token_is_refused(client, group):
    token = get_token(client)
    forged_payload = base64.urlsafe_b64encode(b'{"client_id":"raptor-activation "}')
    forged = forged_payload.decode().rstrip("=") + token[token.index(":") :]
    for bad in (token[:-2] + "xx", forged, "Zm9v:bar:baz"):
        assert post(client, delivery(), auth=f"Bearer {bad}").status_code == 401


@pytest.mark.parametrize(
    ("form", "authorization", "status", "error"),
    [
        ({"grant_type": "password"}, basic(), 400, "unsupported_grant_type"),
        ({}, basic(), 400, "invalid_request"),
        (
            {"grant_type": "client_credentials"},
            basic(secret="wrong-secret-0000"),
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"},
            None,
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_secret": GOOD_SECRET},
            basic(),
            400,
            "invalid_request",
        ),
    ],
)
def test_token_errors_follow_rfc_6749(client, group, form, authorization, status, error):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = token_request(client, form, **headers)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    if status == 401:
        assert response["WWW-Authenticate"] == 'Basic realm="cdp-webhook", charset="UTF-8"'


def test_the_token_endpoint_takes_only_a_form_post(client, group):
    assert client.get(TOKEN_URL).status_code == 405
    response = client.post(
        TOKEN_URL,
        json.dumps({"grant_type": "client_credentials"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


# -- X-CDP-Signature -------------------------------------------------------------------------------


@pytest.fixture
def signed(configure):
    configure({"signing_secret": SIGNING_SECRET, "require_signature": True})


def signed_post(client, body, **headers):
    data = json.dumps(body).encode()
    return post(
        client, data, HTTP_X_CDP_SIGNATURE=signature_header(SIGNING_SECRET, data), **headers
    )


def test_a_signed_delivery_is_applied(client, group, signed):
    assert signed_post(client, delivery(audience())).status_code == 200


def test_the_signature_of_a_delivery_that_failed_can_be_sent_again(
    answering_client, group, users, signed, monkeypatch
):
    """A replay is refused because its delivery was applied; a failed one was not."""
    from .test_deliveries import fail_membership_writes

    data = json.dumps(delivery(audience(members=ids(users[:1])))).encode()
    headers = {"HTTP_X_CDP_SIGNATURE": signature_header(SIGNING_SECRET, data)}
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("disk full"))
        assert post(answering_client, data, **headers).status_code == 500
    assert post(answering_client, data, **headers).json()["status"] == "applied"
    assert (
        post(answering_client, data, HTTP_X_CDP_DELIVERY_ID="x", **headers).json()["status"]
        == "duplicate"
    )


def test_signatures_are_kept_only_while_they_could_be_replayed(client, group, signed):
    first = json.dumps(delivery(audience("a"))).encode()
    old = int(time.time()) - 250
    post(client, first, HTTP_X_CDP_SIGNATURE=signature_header(SIGNING_SECRET, first, old))
    assert WebhookSignature.objects.count() == 1
    later = time.time() + 100  # the first one's timestamp is now refused: it is dropped
    with patch("django.utils.timezone.now", lambda: datetime.fromtimestamp(later, UTC)):
        second = json.dumps(delivery(audience("b"))).encode()
        header = signature_header(SIGNING_SECRET, second, int(later))
        with patch("cdp_bridge.webhook.signatures.time.time", lambda: later):
            assert post(client, second, HTTP_X_CDP_SIGNATURE=header).status_code == 200
    [kept] = WebhookSignature.objects.all()
    assert kept.delivery.segment_group_identifier == "cdp_audiences"
    assert kept.delivery.body == second.decode()


def test_the_signature_covers_the_body_as_sent_so_gzip_is_signed_compressed(client, group, signed):
    compressed = gzip.compress(json.dumps(delivery(audience())).encode())
    response = post(
        client,
        compressed,
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_CDP_SIGNATURE=signature_header(SIGNING_SECRET, compressed),
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "the X-CDP-Signature header is missing."),
        ("v1=abc", "the X-CDP-Signature header must read t=<unix seconds>,v1=<hex digest>."),
        (lambda body: signature_header("another-secret", body), "does not match the body"),
        (lambda body: signature_header(SIGNING_SECRET, body + b" "), "does not match the body"),
        (
            lambda body: signature_header(SIGNING_SECRET, body, int(time.time()) - 301),
            "more than 300 s away",
        ),
        (
            lambda body: signature_header(SIGNING_SECRET, body, int(time.time()) + 301),
            "more than 300 s away",
        ),
    ],
)
def test_a_required_signature_that_is_missing_wrong_or_old_is_401(
    client, group, signed, header, reason
):
    data = json.dumps(delivery(audience())).encode()
    headers = {}
    if header is not None:
        headers["HTTP_X_CDP_SIGNATURE"] = header(data) if callable(header) else header
    response = post(client, data, **headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]["message"]
    assert "WWW-Authenticate" in response


def test_one_matching_signature_of_several_is_enough(client, group, signed):
    data = json.dumps(delivery(audience())).encode()
    good = signature_header(SIGNING_SECRET, data)
    timestamp, digest = good.split(",")
    header = f"{timestamp},v1={'0' * 64},{digest}"
    assert post(client, data, HTTP_X_CDP_SIGNATURE=header).status_code == 200


def test_an_optional_signature_is_still_checked_when_sent(client, group, configure):
    configure({"signing_secret": SIGNING_SECRET})
    data = json.dumps(delivery(audience())).encode()
    assert post(client, data).status_code == 200
    wrong = signature_header("another-secret", data)
    assert post(client, data, HTTP_X_CDP_SIGNATURE=wrong).status_code == 401


def test_the_signature_window_is_configurable(client, group, configure):
    configure(
        {"signing_secret": SIGNING_SECRET, "require_signature": True},
        webhook={"signature_tolerance": 10},
    )
    data = json.dumps(delivery(audience())).encode()
    old = signature_header(SIGNING_SECRET, data, int(time.time()) - 11)
    assert post(client, data, HTTP_X_CDP_SIGNATURE=old).status_code == 401


# -- what an attacker can send ---------------------------------------------------------------------


@pytest.fixture
def no_error_logged(caplog):
    """Fail the test if anything logs an ERROR: an anonymous sender must never cause one."""
    caplog.set_level(logging.DEBUG)
    yield
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, [record.getMessage() for record in errors]


def test_a_token_signed_with_a_retired_site_key_is_refused(client, group, settings):
    settings.SECRET_KEY_FALLBACKS = ["the-site-key-before-it-leaked-0123456789"]
    forged = signing.TimestampSigner(
        key=settings.SECRET_KEY_FALLBACKS[0], salt="cdp_bridge.webhook.token"
    ).sign_object({"client_id": CLIENT_ID})
    response = post(client, delivery(audience()), auth=f"Bearer {forged}")
    assert response.status_code == 401
    assert "does not match a configured client secret" in response.json()["error"]["message"]


def test_a_token_dated_in_the_future_is_refused_beyond_a_small_clock_skew(
    client, group, monkeypatch
):
    now = time.time()
    with monkeypatch.context() as patched:
        patched.setattr("django.core.signing.time.time", lambda: now + 600)
        from_the_future = get_token(client)
        patched.setattr("django.core.signing.time.time", lambda: now + 20)
        slightly_ahead = get_token(client)
    response = post(client, delivery(), auth=f"Bearer {from_the_future}")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "the bearer token is dated in the future."
    assert post(client, delivery(), auth=f"Bearer {slightly_ahead}").status_code == 200


def test_a_deeply_nested_token_is_401_not_an_error(client, group, no_error_logged):
    nested = base64.urlsafe_b64encode(b"[" * 3000).decode()
    response = post(client, delivery(), auth=f"Bearer {nested}:x:y")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("timestamp", [None, "!!", ""])
def test_a_well_signed_token_without_a_usable_timestamp_is_401_malformed_not_an_error(
    client, group, caplog, no_error_logged, timestamp
):
    """Signed with a client secret, but not by the token endpoint: no timestamp, or one that
    is not base62."""
    claims = signing.b64_encode(json.dumps({"client_id": CLIENT_ID}).encode()).decode()
    value = claims if timestamp is None else f"{claims}:{timestamp}"
    forged = signing.Signer(key=GOOD_SECRET, salt="cdp_bridge.webhook.token").sign(value)
    response = post(client, delivery(audience()), auth=f"Bearer {forged}")
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "invalid_credentials",
        "the bearer token is malformed.",
    )
    [refusal] = [r for r in caplog.records if r.name == "cdp_bridge.webhook"]
    assert refusal.levelno == logging.WARNING


def test_a_token_request_with_too_many_fields_is_400_not_an_error(client, group, no_error_logged):
    form = "&".join(f"f{index}=" for index in range(1_100))
    response = client.post(
        TOKEN_URL,
        f"grant_type=client_credentials&{form}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "fields" in response.json()["error_description"]


@pytest.mark.parametrize("digits", [400, 4_400])
def test_a_signature_timestamp_of_hundreds_of_digits_is_401_not_an_error(
    client, group, signed, no_error_logged, digits
):
    response = post(client, delivery(audience()), HTTP_X_CDP_SIGNATURE=f"t={'9' * digits},v1=00")
    assert response.status_code == 401
    assert "must read t=<unix seconds>" in response.json()["error"]["message"]
