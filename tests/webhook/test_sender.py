"""Sending a delivery as the CDP does, to a real HTTP server on loopback."""

import base64
import gzip
import json

import pytest
from werkzeug import Response

import cdp_bridge
from cdp_bridge.conf import Activation
from cdp_bridge.webhook.sender import TokenRefused, fetch_token, send_activation
from cdp_bridge.webhook.signatures import verify_signature

from ..conftest import GOOD_SECRET, OTHER_SECRET
from .conftest import CLIENT_ID, SIGNING_SECRET

BODY = b'{"segment_group_identifier": "g", "audiences": []}'


def activation(**fields):
    return Activation(
        client_id=CLIENT_ID,
        client_secrets=(GOOD_SECRET, OTHER_SECRET),
        segment_group_identifier="g",
        **fields,
    )


@pytest.fixture
def received(httpserver):
    """The webhook at ``/hook`` of a loopback server, and the requests it received."""
    requests_seen = []

    def answer(request):
        requests_seen.append(request)
        return Response(json.dumps({"status": "applied"}), content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(answer)
    return httpserver.url_for("/hook"), requests_seen


def test_it_posts_json_with_basic_credentials_of_the_first_secret(received):
    url, seen = received
    response = send_activation(url, BODY, activation(), delivery_id="d-1")
    assert response.json() == {"status": "applied"}
    [request] = seen
    assert request.get_data() == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == cdp_bridge.USER_AGENT
    assert request.headers["X-CDP-Delivery-Id"] == "d-1"
    credentials = base64.b64decode(request.headers["Authorization"].split()[1]).decode()
    assert credentials == f"{CLIENT_ID}:{GOOD_SECRET}"
    assert "X-CDP-Signature" not in request.headers


def test_with_a_signing_secret_the_body_is_signed_as_sent_gzip_included(received):
    url, seen = received
    send_activation(url, BODY, activation(signing_secret=SIGNING_SECRET), compress=True)
    [request] = seen
    sent = request.get_data()
    assert request.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(sent) == BODY
    verify_signature(request.headers["X-CDP-Signature"], SIGNING_SECRET, sent, 300)


def test_with_use_token_it_gets_a_bearer_token_first(received, httpserver):
    url, seen = received
    httpserver.expect_request(
        "/hook/token", method="POST", data="grant_type=client_credentials"
    ).respond_with_json({"access_token": "t0ken", "token_type": "Bearer", "expires_in": 60})
    send_activation(url, BODY, activation(), use_token=True)
    [request] = seen
    assert request.headers["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            Response(
                json.dumps({"error": "invalid_client", "error_description": "wrong secret."}),
                status=401,
                content_type="application/json",
            ),
            "The token endpoint answered 401 invalid_client: wrong secret.",
        ),
        (
            Response(json.dumps({"error": "invalid_request"}), status=400),
            "The token endpoint answered 400 invalid_request",
        ),
        (
            Response("<h1>Not Found</h1>", status=404),
            "The token endpoint answered 404 NOT FOUND: Not Found",
        ),
        (Response("", status=502), "The token endpoint answered 502 BAD GATEWAY"),
        (
            Response(json.dumps({"no": "token"}), status=200),
            'The token endpoint answered 200 OK: {"no": "token"}',
        ),
    ],
)
def test_a_refused_token_request_says_what_the_endpoint_answered(httpserver, answer, message):
    httpserver.expect_request("/hook/token").respond_with_response(answer)
    with pytest.raises(TokenRefused) as refused:
        fetch_token(httpserver.url_for("/hook"), activation())
    assert str(refused.value) == message
