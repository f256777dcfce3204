"""The example site in a real browser: consent starts tracking, events reach Raptor's queue, and
a customer in a segment sees that segment's banner.

Debian's chromium driven by Playwright for Python. Raptor's script is never fetched: the browser
answers its URL with a stub that counts how often it ran, so the test sees exactly when tracking
starts, and no request leaves the machine.
"""

import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import EXAMPLE, example_site_environment, run_example_manage

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"the browser tests need Debian's chromium at {CHROMIUM}, which is not installed: "
        "run `apt-get install -y chromium` (bash .ci/run does)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need Playwright for Python: pip install -e '.[dev]'",
)

RAPTOR_SCRIPT = "https://deliver.raptorstatic.com/script/raptor-3.0.min.js"
RAPTOR_STUB = "window.__raptorScriptRuns = (window.__raptorScriptRuns || 0) + 1;"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
STARTUP_LIMIT = 60  # seconds for runserver to answer; a limit, not a measurement


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    """The example site, migrated and seeded, served by runserver on a free loopback port."""
    directory = tmp_path_factory.mktemp("example-site")
    environment = example_site_environment(directory)
    for args in (
        ("migrate", "-v", "0"),
        ("seed_demo", "--users", "10", "--products", "6", "--articles", "2"),
    ):
        done = run_example_manage(environment, *args)
        assert done.returncode == 0, done.stderr
    with serving(directory, environment) as url:
        yield url


@contextmanager
def serving(directory, environment):
    """The example site served by runserver on a free loopback port: its URL, while it runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with (directory / "runserver.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(url, server, directory / "runserver.log")
            yield url
        finally:
            server.terminate()
            server.wait(10)


def _wait_until_up(url, server, log):
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver stopped: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback URL
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"runserver did not answer within {STARTUP_LIMIT} s: {log.read_text()}")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, example_site):
    """A fresh visitor (no cookies); ``page.raptor_loads`` lists each fetch of Raptor's script."""
    context = browser.new_context(base_url=example_site)
    loads = []

    def answer_with_stub(route):
        loads.append(route.request.url)
        route.fulfill(status=200, content_type="application/javascript", body=RAPTOR_STUB)

    context.route(RAPTOR_SCRIPT, answer_with_stub)
    page = context.new_page()
    page.raptor_loads = loads
    yield page
    context.close()


def queued(page):
    """What the page pushed to ``window.raptor``: (event, params) pairs, oldest first."""
    return [(item["event"], item["params"]) for item in page.evaluate("window.raptor.q")]


def tracked_events(page):
    return [params for event, params in queued(page) if event == "trackEvent"]


def log_in(page, username):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_tracking_starts_only_after_consent_and_the_page_events_are_queued(page):
    page.goto("/")
    assert page.is_visible("#cookie-consent")
    page.click("a[href^='/products/']")
    sku = page.url.rstrip("/").rsplit("/", 1)[-1]

    assert queued(page)[0] == ("trackevent", {"p1": "pageview"})
    [visit] = tracked_events(page)
    assert (visit["p1"], visit["p2"], visit["p6"]) == ("visit", sku, "EUR")
    assert "p7" not in visit  # an anonymous visitor has no user id
    assert "setRuid" not in [event for event, _ in queued(page)]
    assert page.raptor_loads == []  # no consent yet: Raptor's script is not even fetched

    page.click("#cookie-consent-accept")
    page.wait_for_function("window.__raptorScriptRuns === 1")
    assert page.raptor_loads == [RAPTOR_SCRIPT]
    assert page.is_hidden("#cookie-consent")

    page.reload()  # the choice is remembered: tracking starts at once, without asking again
    page.wait_for_function("window.__raptorScriptRuns === 1")
    assert page.is_hidden("#cookie-consent")
    assert len(page.raptor_loads) == 2


def test_a_visitor_who_declines_is_never_tracked(page):
    page.goto("/")
    page.click("#cookie-consent-decline")
    page.reload()
    assert page.is_hidden("#cookie-consent")
    page.click("a[href^='/products/']")
    assert tracked_events(page)[0]["p1"] == "visit"  # queued in the page, and no further
    assert page.raptor_loads == []


@pytest.mark.parametrize(
    ("customer", "banner"),
    [
        (None, "fallback"),
        ("customer0000001", "laptop-shoppers"),  # in both segments: the first variation wins
        ("customer0000006", "lapsed-buyers"),
        ("customer0000002", "fallback"),  # in no segment
    ],
)
def test_a_customer_in_a_segment_sees_that_segments_banner(page, customer, banner):
    if customer:
        log_in(page, customer)
    else:
        page.goto("/")
    assert page.get_attribute("section.banner", "data-variation") == banner


def test_a_customers_basket_and_order_are_tracked_with_their_user_id(page):
    log_in(page, "customer0000001")
    [(_, ruid)] = [(event, params) for event, params in queued(page) if event == "setRuid"]
    assert re.fullmatch(r"[0-9a-f]{64}", ruid)  # tracking.user_id: hashed in the example

    page.click("a[href^='/products/']")
    sku = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.fill("input[name=quantity]", "2")
    page.click("text=Add to basket")
    page.wait_for_url(re.compile(r"/basket/$"))
    [basket] = tracked_events(page)
    assert basket["p1"] == "basket"
    assert (basket["p2"], basket["p5"], basket["p10"]) == (sku, "2", sku)
    assert basket["p7"] == ruid

    page.click("text=Buy")
    page.wait_for_url(re.compile(r"/order/$"))
    order_id = page.inner_text("h1").rsplit(" ", 1)[-1]
    [buy] = tracked_events(page)
    assert (buy["p1"], buy["p2"], buy["p5"], buy["p21"], buy["p7"]) == (
        "buy",
        sku,
        "2",
        order_id,
        ruid,
    )
