"""``X-CDP-Signature``: what a sender computes, and what the webhook accepts."""

import hashlib
import hmac

import pytest

from cdp_bridge.webhook.signatures import SignatureError, signature_header, verify_signature

SECRET = "whsec-3f9a7c1e5b2d4a6c8e0f1a3b5c7d9e1f"
BODY = b'{"segment_group_identifier": "g"}'
NOW = 1_900_000_000


def test_the_header_is_an_hmac_sha256_of_the_timestamp_and_the_body():
    digest = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, BODY, NOW) == f"t={NOW},v1={digest}"
    verify_signature(signature_header(SECRET, BODY, NOW), SECRET, BODY, 300, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_signature_within_the_tolerance_either_way_is_accepted(offset):
    verify_signature(signature_header(SECRET, BODY, NOW + offset), SECRET, BODY, 300, now=NOW)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "header is missing"),
        ("", "header is missing"),
        (f"v1={'0' * 64}", "must read t=<unix seconds>,v1=<hex digest>"),
        (f"t={NOW}", "must read t=<unix seconds>"),
        (f"t=-{NOW},v1=00", "must read t=<unix seconds>"),
        (f"t={'9' * 13},v1=00", "must read t=<unix seconds>"),
        (f"t={'9' * 5000},v1=00", "must read t=<unix seconds>"),
        ("t=١٢٣,v1=00", "must read t=<unix seconds>"),  # digits, but not ASCII ones
        (signature_header(SECRET, BODY, NOW - 301), "more than 300 s away"),
        (signature_header(SECRET, BODY, NOW + 301), "more than 300 s away"),
        (signature_header("another-secret", BODY, NOW), "does not match the body"),
        (signature_header(SECRET, BODY + b" ", NOW), "does not match the body"),
    ],
)
def test_a_missing_malformed_old_or_wrong_signature_is_refused(header, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature(header, SECRET, BODY, 300, now=NOW)


def test_one_matching_signature_of_several_is_enough():
    good = signature_header(SECRET, BODY, NOW)
    verify_signature(f"t={NOW},v1={'0' * 64}, {good.split(',')[1]}", SECRET, BODY, 300, now=NOW)
