"""The CDP dashboard of the example site in a real browser, with two weeks of history in it.

The site is seeded with ``seed_demo --history 14``: export runs, and deliveries the webhook's
core applied on each of those days (so the segment sizes are the sync engine's). The test takes
a screenshot of the whole page into its temporary directory, and also to the path
``CDP_DASHBOARD_SCREENSHOT`` names, if set, for people to look at.
"""

import os
import re
import shutil

import pytest

from ..conftest import example_site_environment, run_example_manage
from ..test_browser import CHROMIUM, CHROMIUM_ARGS, serving, sync_api

DAYS = 14
USERS = 60  # customer n likes laptops when n % 3 == 1, ordered long ago when n % 5 == 1
PASSWORD = "admin-password-for-the-browser-test"


@pytest.fixture(scope="module")
def dashboard_site(tmp_path_factory):
    """The example site with DAYS of history and an administrator, served by runserver."""
    directory = tmp_path_factory.mktemp("dashboard-site")
    environment = example_site_environment(directory) | {"DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    for args in (
        ("migrate", "-v", "0"),
        (
            "seed_demo",
            "--users",
            str(USERS),
            "--products",
            "9",
            "--articles",
            "3",
            "--history",
            str(DAYS),
        ),
        ("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"),
    ):
        done = run_example_manage(environment, *args)
        assert done.returncode == 0, done.stderr
        if args[0] == "seed_demo":
            assert f"history: {DAYS} days, " in done.stdout
    again = run_example_manage(environment, "seed_demo", "--users", "1", "--history", "3")
    assert "history: left alone, the site has export runs or deliveries already" in again.stdout
    with serving(directory, environment) as url:
        yield url


@pytest.fixture
def admin_page(dashboard_site):
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = chromium.new_context(
            base_url=dashboard_site, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.goto("/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))
        yield page
        chromium.close()


def test_the_dashboard_shows_two_weeks_of_history(admin_page, tmp_path):
    page, expect = admin_page, sync_api.expect
    page.locator(".app-cdp_bridge").get_by_role("link", name="CDP dashboard").click()
    page.wait_for_url(re.compile(r"/admin/cdp_bridge/dashboard/$"))
    expect(page.get_by_role("heading", name="CDP dashboard")).to_be_visible()

    # Each chart is an image named by its title and described in words.
    for title in (
        "Rows exported per day",
        "Time spent exporting per day",
        "Webhook deliveries per day",
    ):
        chart = page.get_by_role("img", name=title)
        expect(chart).to_be_visible()
        expect(chart).to_have_accessible_description(re.compile(r"to \d+ \w+: .+"))
    deliveries = page.get_by_role("img", name="Webhook deliveries per day")
    assert deliveries.bounding_box()["height"] > 200
    assert deliveries.locator("rect[fill^='url(#deliveries-']").count() >= DAYS  # bars

    # The table behind the deliveries chart: a row a day, each day's delivery applied.
    page.get_by_text("Webhook deliveries per day: the figures as a table").click()
    table = page.get_by_role("table", name="Webhook deliveries per day")
    expect(table).to_be_visible()
    applied = table.locator("tbody tr td:first-of-type").all_inner_texts()
    assert applied == ["1"] * DAYS

    # The segments end where their rules put them: the last delivery was a full snapshot.
    sizes = {
        row.locator("code").inner_text(): row.locator("td.cdp-number").first.inner_text()
        for row in page.locator("table.cdp-segments > tbody > tr").all()
    }
    assert sizes == {
        "laptop-shoppers": str(len([n for n in range(1, USERS + 1) if n % 3 == 1])),
        "lapsed-buyers": str(len([n for n in range(1, USERS + 1) if n % 5 == 1])),
    }
    for name in ("Laptop shoppers", "Lapsed buyers"):
        expect(page.get_by_role("img", name=f"Members of {name} per day")).to_be_visible()

    # The admin's sidebar sticks to the window: a window as tall as the page shows it whole.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": height})
    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"dashboard screenshot: {screenshot}")
    if os.environ.get("CDP_DASHBOARD_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["CDP_DASHBOARD_SCREENSHOT"])
