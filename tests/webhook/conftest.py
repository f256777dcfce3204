"""Fixtures for the webhook: a configured activation, its segment group, users, and a sender.

Every answer the webhook tests receive, through the test client or over HTTP, is checked
against the OpenAPI document (``contract.py``).
"""

import base64
import gzip
import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client

from cdp_bridge.models import SegmentGroup

from ..conftest import GOOD_SECRET, OTHER_SECRET
from .contract import check_answer

CLIENT_ID = "raptor-activation"
GROUP = "cdp_audiences"
SIGNING_SECRET = "whsec-3f9a7c1e5b2d4a6c8e0f1a3b5c7d9e1f"
ACTIVATION = {
    "client_id": CLIENT_ID,
    "client_secret": [GOOD_SECRET, OTHER_SECRET],
    "segment_group_identifier": GROUP,
}
WEBHOOK = "/cdp/webhook"


def configuration(activation=None, **global_keys):
    """A CDP_BRIDGE dict with one activation in the default scope."""
    return {
        "system": {"default": {"cdp": {"activations": [{**ACTIVATION, **(activation or {})}]}}},
        "bulk_async_threshold": 100,
        **global_keys,
    }


class ContractClient(Client):
    """Django's test client, checking each answer against the OpenAPI document."""

    def request(self, **request):
        response = super().request(**request)
        check_answer(
            request["REQUEST_METHOD"],
            request["PATH_INFO"],
            response.status_code,
            response.headers,
            response.content,
        )
        return response


@pytest.fixture
def client():
    return ContractClient()


@pytest.fixture
def answering_client():
    """A test client that lets the site answer a bug with its 500, as a server does.

    Django's test client raises the exception the view reported instead; ``client`` does.
    """
    return ContractClient(raise_request_exception=False)


@pytest.fixture(autouse=True)
def answers_over_http_follow_the_contract(monkeypatch):
    """The same check for every answer received over HTTP (live servers, gunicorn)."""
    send = requests.Session.send

    def checked_send(session, prepared, **kwargs):
        response = send(session, prepared, **kwargs)
        check_answer(
            prepared.method,
            prepared.url,
            response.status_code,
            response.headers,
            response.content,
        )
        return response

    monkeypatch.setattr(requests.Session, "send", checked_send)


@pytest.fixture
def configure(cdp_config):
    """Configure the activation (with overrides); returns the function for a second call."""

    def apply(activation=None, **global_keys):
        report = cdp_config(configuration(activation, **global_keys))
        assert not report.errors, report.errors

    apply()
    return apply


@pytest.fixture
def group(db, configure):
    return SegmentGroup.objects.create(identifier=GROUP, name="CDP audiences")


@pytest.fixture
def users(db):
    """Ten users; their primary keys are the CDP's person identifiers."""
    return [User.objects.create_user(f"user{index}") for index in range(10)]


def basic(client_id=CLIENT_ID, secret=GOOD_SECRET):
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return f"Basic {credentials}"


def audience(audience_id="5d822e81", **fields):
    """A full audience; pass ``sync="delta"`` with added/removed for a delta."""
    base = {"id": audience_id, "name": "Cat owners", "sync": "full", "members": []}
    if fields.get("sync") == "delta":
        del base["members"]
    return {**base, **fields}


def delivery(*audiences, **fields):
    return {"segment_group_identifier": GROUP, "audiences": list(audiences), **fields}


def ids(users):
    return [str(user.pk) for user in users]


def post(client, body, *, auth=None, compress=False, **headers):
    """POST a delivery (a dict, or raw bytes) through Django's test client."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if compress:
        data = gzip.compress(data)
        headers.setdefault("HTTP_CONTENT_ENCODING", "gzip")
    headers.setdefault("content_type", "application/json")
    return client.post(WEBHOOK, data, HTTP_AUTHORIZATION=auth or basic(), **headers)


def members(segment_identifier):
    from cdp_bridge.models import SegmentMembership

    return set(
        SegmentMembership.objects.filter(segment__identifier=segment_identifier).values_list(
            "user__username", flat=True
        )
    )


def raw_post(url, headers, body, *, close_after_sending=False):
    """POST bytes exactly as given over a socket (``requests`` cannot send them wrong).

    ``close_after_sending`` half-closes the connection once the bytes are sent, as a client
    that stops in the middle of its body does; the answer is still read.
    """
    where = urlsplit(url)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"POST {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n{head}\r\n".encode()
    with socket.create_connection((where.hostname, where.port), timeout=30) as connection:
        connection.sendall(request + body)
        if close_after_sending:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection, method="POST")
        response.begin()
        content = response.read()
    check_answer("POST", url, response.status, response.headers, content)
    return response.status, json.loads(content)
