"""The webhook served by gunicorn, as production sites serve it: chunked bodies and HEAD.

gunicorn runs the site in its own process and database (a standalone site), so what is
tested is what a client of a deployed site gets.
"""

import base64
import gzip
import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from ..standalone import standalone_site
from .conftest import raw_post

CREDENTIALS = ("raptor", "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5")
JSON = {"Content-Type": "application/json"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def site_log(tmp_path_factory):
    """The file the site logs to, a record a line: ``LEVEL logger message``."""
    return tmp_path_factory.mktemp("gunicorn-log") / "site.log"


@pytest.fixture(scope="module")
def site(tmp_path_factory, site_log):
    for site in standalone_site(
        tmp_path_factory.mktemp("gunicorn"),
        "tests.webhook.settings_gunicorn",
        {"CDP_TEST_LOG_FILE": str(site_log)},
    ):
        prepared = site.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "from cdp_bridge.models import SegmentGroup; "
            "User.objects.bulk_create([User(username=f'u{i}') for i in range(1, 4)]); "
            "SegmentGroup.objects.create(identifier='cdp_audiences', name='CDP')",
        )
        assert prepared.returncode == 0, prepared.stderr
        yield site


@pytest.fixture(scope="module")
def gunicorn(site):
    """The site's URL under gunicorn; its log is checked once every test has run."""
    port = free_port()
    server = site.start(
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--error-logfile",
        "-",
        "django.core.wsgi:get_wsgi_application()",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert server.poll() is None, server.communicate()[0]
        time.sleep(0.1)
    yield server, f"http://127.0.0.1:{port}/cdp/webhook"
    server.terminate()
    try:
        log, _ = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        log, _ = server.communicate()
    assert "no-body response" not in log, log
    assert "Traceback" not in log, log


@pytest.fixture
def webhook(gunicorn):
    return gunicorn[1]


def chunks(body, size=1000):
    """The body as a generator: ``requests`` sends it with ``Transfer-Encoding: chunked``."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def delivery(audience_id, members):
    body = {
        "segment_group_identifier": "cdp_audiences",
        "audiences": [{"id": audience_id, "sync": "full", "members": members}],
    }
    return json.dumps(body).encode()


def test_a_chunked_body_is_read_whole(webhook, site):
    response = requests.post(
        webhook, data=chunks(delivery("chunked", ["1"])), headers=JSON, auth=CREDENTIALS, timeout=30
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200, response.text
    assert response.json()["audiences"][0]["added"] == 1
    query = "list(SegmentMembership.objects.filter(segment__identifier='chunked')"
    assert site.query(query + ".values_list('user__username', flat=True))") == ["u1"]


def test_a_chunked_gzip_body_is_read_whole(webhook):
    body = gzip.compress(delivery("chunked-gzip", ["2"]))
    response = requests.post(
        webhook,
        data=chunks(body, 10),
        headers={**JSON, "Content-Encoding": "gzip"},
        auth=CREDENTIALS,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["audiences"][0]["added"] == 1


def test_a_chunked_body_over_the_limit_is_413_once_the_limit_is_read(webhook):
    # 1 MB, 16 times the limit: small enough for the loopback's buffers to take whole, so
    # that the client is done sending when the server answers without reading the rest.
    body = (b"x" * 1000 for _ in range(1000))
    try:
        response = requests.post(webhook, data=body, headers=JSON, auth=CREDENTIALS, timeout=30)
    except requests.ConnectionError:
        pytest.fail("the server closed the connection without answering")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_head_answers_have_no_body(webhook):
    """gunicorn drops a body sent for HEAD and logs it; the fixture checks the log."""
    assert requests.head(webhook, auth=CREDENTIALS, timeout=30).status_code == 200
    refused = requests.head(webhook, auth=(CREDENTIALS[0], "wrong-secret-000000"), timeout=30)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.head(f"{webhook}/token", timeout=30).status_code == 405


AUTHORIZATION = "Basic " + base64.b64encode(":".join(CREDENTIALS).encode()).decode()


@pytest.mark.parametrize(
    ("case", "headers", "body"),
    [
        (
            "a chunk size that is not hex",
            {"Transfer-Encoding": "chunked"},
            b"zz\r\nabc\r\n0\r\n\r\n",
        ),
        ("a chunk cut short", {"Transfer-Encoding": "chunked"}, b"100\r\nabc"),
        # A whole delivery, but not the whole body its Content-Length announces.
        (
            "a body shorter than its Content-Length",
            {"Content-Length": "1000"},
            delivery("cut-short", ["1"]),
        ),
    ],
)
def test_a_body_that_cannot_be_read_whole_is_400_and_a_warning(
    webhook, site, site_log, case, headers, body
):
    before = site_log.read_text() if site_log.exists() else ""
    status, answer = raw_post(
        webhook,
        {"Content-Type": "application/json", "Authorization": AUTHORIZATION, **headers},
        body,
        close_after_sending=True,
    )
    assert (status, answer["error"]["code"]) == (400, "invalid_body"), case
    logged = site_log.read_text()[len(before) :].splitlines()
    assert "WARNING django.request Bad Request: /cdp/webhook" in logged
    assert [line for line in logged if line.startswith(("ERROR", "CRITICAL"))] == []
    rejected = "WebhookDelivery.objects.values_list('status', 'error').latest('pk')"
    status, error = site.query(f"list({rejected})")
    assert status == "rejected"
    assert error.startswith("The body ")
    assert site.query("Segment.objects.filter(identifier='cut-short').count()") == 0
