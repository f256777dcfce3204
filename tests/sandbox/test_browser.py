"""The sandbox in a real browser: its web UI, and its tracking script on a site's page.

Debian's chromium driven by Playwright for Python, as in tests/test_browser.py; every request
goes to loopback servers of this test (the sandbox and a live Django server).
"""

import re
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from cdp_bridge.models import SegmentGroup

from ..test_browser import CHROMIUM, CHROMIUM_ARGS
from ..webhook.conftest import GROUP

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need Playwright for Python: pip install -e '.[dev]'",
)
if not Path(CHROMIUM).exists():
    pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM}", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True)
WAIT_LIMIT = 10  # seconds for the sandbox to receive what the page sent; a limit, not a measure


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop on this thread; the test's own database calls
    # are synchronous all the same (Playwright's documented way with Django).
    patch = pytest.MonkeyPatch()
    patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    patch.undo()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_the_ui_shows_streams_rows_the_data_manager_audiences_and_attempts(site, live_server, page):
    for number in range(60):
        User.objects.create_user(f"user{number:02d}")
    call_command("stream_user_data", "-v", "0")
    call_command("stream_user_data", "--no-draft", "-v", "0")
    SegmentGroup.objects.create(identifier=GROUP, name="CDP audiences")
    webhook = f"{live_server.url}/cdp/webhook"
    tens = {"id": "tens", "name": "Tens", "all": [{"have": "login", "contains": "user1"}]}
    site.define([tens], [site.site_activation(webhook, ["tens"], name="shop")])

    page.goto(f"{site.url}/")
    streams = page.inner_text("#streams")
    assert re.search(r"person\s+60\s+60\s+2", streams), streams  # full, draft rows, batches
    assert page.inner_text("#audiences .members") == "10"
    page.click("text=Activate now")
    assert "shop: tens full (10 members): 200 applied" in page.inner_text("#message")
    page.click("#attempts a")
    assert page.inner_text("#outcome") == "200 applied"
    request = page.inner_text("#request")
    assert request.startswith(f"POST {webhook}")
    assert "Authorization: Basic (raptor-activation:…)" in request
    assert '"sync":"full"' in request
    assert '{"status":"applied"' in page.inner_text("#response")

    page.goto(f"{site.url}/")
    page.click("#streams a")
    assert page.inner_text("#full-rows") == "60"
    assert "login\tString" in page.inner_text("#draft-columns")
    assert "page 1 of 2" in page.inner_text("body")
    assert page.locator("#rows tr").count() == 51  # a header and 50 rows
    page.click("text=next")
    assert page.locator("#rows tr").count() == 11
    assert page.inner_text("#rows tr:last-child td:nth-child(2)") == "user59"


def wait_for_events(site, count):
    deadline = time.monotonic() + WAIT_LIMIT
    while len(events := site.events()) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return events


def test_the_tracking_script_sends_events_and_set_ruid_with_the_rsa_cookie(
    site, live_server, page, settings
):
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    ada = User.objects.create_user("ada")
    client = Client()
    client.force_login(ada)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/tracked/")
    events = wait_for_events(site, 2)
    [cookie] = [c["value"] for c in page.context.cookies() if c["name"] == "rsa"]
    visit = next(event for event in events if event["event_type"] == "visit")
    assert (visit["params"]["p2"], visit["params"]["p3"]) == ("SKU-1", "Nimbus")
    assert (visit["cookie_id"], visit["person"], visit["source"]) == (
        cookie,
        str(ada.pk),
        "browser",
    )
    assert {event["event_type"] for event in events} == {"visit", "pageview"}
    assert site.store.person_of_cookie(cookie) == str(ada.pk)  # setRuid linked the cookie

    page.reload()  # the same visitor keeps their cookie
    assert {event["cookie_id"] for event in wait_for_events(site, 4)} == {cookie}
