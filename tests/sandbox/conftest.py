"""Fixtures for the sandbox: one served on a free port, and a client that speaks to it."""

import pytest
import requests

from cdp_bridge.sandbox.server import Sandbox

STREAM = "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"


@pytest.fixture
def sandbox(tmp_path):
    """A sandbox with no audience file, on a free loopback port."""
    running = Sandbox(tmp_path / "state", address=("127.0.0.1", 0)).start()
    yield running
    running.stop()


def post_batch(
    url, rows=None, *, body=None, draft=False, stream=STREAM, account="12345", **headers
):
    """POST a batch to the sandbox's Streaming API as the export does."""
    sent = {"x-streamid": stream, "Content-Type": "application/json", **headers}
    if draft:
        sent["x-isdraft"] = "true"
    data = body if body is not None else requests.models.complexjson.dumps(rows).encode()
    return requests.post(f"{url}/stream/{account}", data=data, headers=sent, timeout=10)


SOURCES = {
    "user": {"user": {"model": "auth.User"}},
    "content": {"article": {"model": "testapp.Article", "name_field": "title"}},
    "product": {"product": {"model": "testapp.Product", "code_field": "sku", "name_field": "name"}},
}


@pytest.fixture
def site_config(settings):
    """The site's own CDP configuration, as its test settings would have it (no CDP address)."""
    from ..webhook.conftest import configuration

    settings.CDP_BRIDGE = configuration(sources=SOURCES)


@pytest.fixture
def site(site_config, cdp_sandbox):
    """The sandbox, with the site's configuration (above) pointed at it by the fixture."""
    return cdp_sandbox
