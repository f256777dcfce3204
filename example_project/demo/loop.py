"""The whole CDP loop on the example site, for the README: export, audiences, activation, page.

Starts a local CDP sandbox and the site on free loopback ports, exports every kind (a draft,
then everything) to the sandbox, activates the example's audiences (config/cdp_sandbox.yaml)
against the site's webhook, and shows what the site now holds and the home page a member sees.
Both servers are stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model

from cdp_bridge.models import Segment, SegmentGroup
from demo.seeding import SEGMENT_GROUP

STATE = Path("var/cdp_sandbox_demo")  # the demo's own sandbox state, begun afresh each run
AUDIENCES = Path("config/cdp_sandbox.yaml")
STARTUP_LIMIT = 60.0  # seconds for a server to answer
BANNER = re.compile(
    r'<section class="banner" data-variation="(?P<variation>[^"]+)"><h1>(?P<text>[^<]+)</h1>'
)
PASSWORD = "demo-password"


class LoopFailed(Exception):
    """A step of the loop failed; the message says which, and its output's last line."""


def run_loop(say: Callable[[str], None]) -> None:
    base = Path(settings.BASE_DIR)
    shutil.rmtree(base / STATE, ignore_errors=True)
    sandbox_port, site_port = free_port(), free_port()
    sandbox_url, site_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{site_port}"
    environment = os.environ | {
        "CDP_EXPORT_TRANSPORT": "stream_file",
        "CDP_STREAM_BASE_URL": sandbox_url,
        "CDP_TRACKING_SCRIPT_URL": f"{sandbox_url}/tracking/raptor.js",
        "CDP_TRACKING_SERVER_URL": sandbox_url,
    }
    manage = Manage(base, environment, say)
    with ExitStack() as servers:
        say(f"Starting the CDP sandbox at {sandbox_url}/ and the site at {site_url}/")
        servers.enter_context(
            manage.serving(
                sandbox_url,
                "cdp_sandbox",
                "--addrport",
                f"127.0.0.1:{sandbox_port}",
                "--data",
                str(STATE),
                "--audiences",
                str(AUDIENCES),
            )
        )
        servers.enter_context(
            manage.serving(site_url, "runserver", "--noreload", f"127.0.0.1:{site_port}")
        )
        for kind in ("user", "product", "content"):
            manage.run(f"stream_{kind}_data")
            manage.run(f"stream_{kind}_data", "--no-draft")
        manage.run(
            "cdp_sandbox", "activate", "--data", str(STATE), "--base-url", f"{site_url}/cdp/webhook"
        )
        manage.run("cdp_process_deliveries")  # deliveries of 100 members or more are queued
        member = show_segments(say)
        show_home_page(site_url, member, say)
    say(
        "See it yourself: ../.venv/bin/python manage.py runserver, then open "
        f"http://127.0.0.1:8000/ and log in as {member} (password {PASSWORD}). "
        f"The sandbox's own pages: ../.venv/bin/python manage.py cdp_sandbox --data {STATE}, "
        "then http://127.0.0.1:8765/."
    )


def show_segments(say: Callable[[str], None]) -> str:
    """Print the CDP's segments on the site; returns the first member of the first segment."""
    group = SegmentGroup.objects.get(identifier=SEGMENT_GROUP)
    say(f"The site's segment group {group.identifier} (locked by the CDP: {group.is_locked}):")
    first_member = None
    for segment in Segment.objects.filter(group=group).order_by("identifier"):
        memberships = segment.memberships.order_by("user_id")
        say(f"  {segment.identifier} ({segment.name}): {memberships.count()} members")
        if first_member is None and memberships.exists():
            first_member = memberships.first().user.get_username()  # type: ignore[union-attr]
    if first_member is None:
        raise LoopFailed("The activation left every segment empty: nothing to show.")
    return first_member


def show_home_page(site_url: str, username: str, say: Callable[[str], None]) -> None:
    """Fetch the home page anonymously and as ``username``; print the banner each sees."""
    anonymous = requests.get(f"{site_url}/", timeout=30)
    say(f"The home page's banner for an anonymous visitor: {banner(anonymous.text)}")
    session = requests.Session()
    login = session.get(f"{site_url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    if token is None:
        raise LoopFailed(f"No login form at {site_url}/accounts/login/.")
    answer = session.post(
        f"{site_url}/accounts/login/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": PASSWORD},
        headers={"Referer": f"{site_url}/accounts/login/"},
        timeout=30,
    )
    if "logout" not in answer.text:
        raise LoopFailed(f"Could not log in as {username}.")
    user = get_user_model().objects.get(username=username)
    segments = ", ".join(
        Segment.objects.filter(memberships__user=user)
        .order_by("identifier")
        .values_list("identifier", flat=True)
    )
    say(f"The home page's banner for {username} (segments: {segments}): {banner(answer.text)}")


def banner(page: str) -> str:
    found = BANNER.search(page)
    if found is None:
        raise LoopFailed("The home page has no banner.")
    return f"{found['text']} [{found['variation']}]"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Manage:
    """Runs the example's manage.py commands with the loop's environment, printing each."""

    def __init__(self, base: Path, environment: dict[str, str], say: Callable[[str], None]) -> None:
        self.base = base
        self.environment = environment
        self.say = say

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def run(self, *args: str) -> None:
        self.say(f"$ manage.py {' '.join(args)}")
        done = subprocess.run(  # noqa: S603 - our own manage.py, with our own arguments
            self.command(*args),
            cwd=self.base,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        for line in done.stdout.splitlines():
            if line.strip():
                self.say(f"  {line}")
        if done.returncode != 0:
            raise LoopFailed(f"manage.py {args[0]} failed: {lines[-1] if lines else 'no output'}")

    @contextmanager
    def serving(self, url: str, *args: str) -> Iterator[None]:
        log = self.base / "var" / f"cdp_demo_{args[0]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as output:
            server = subprocess.Popen(  # noqa: S603 - as above
                self.command(*args),
                cwd=self.base,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(url, server, log)
            yield
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            lines = log.read_text().strip().splitlines()
            raise LoopFailed(f"{url} did not start: {lines[-1] if lines else 'no output'}")
        try:
            requests.get(url, timeout=2)
        except requests.RequestException:
            time.sleep(0.2)
        else:
            return
    raise LoopFailed(f"{url} did not answer within {STARTUP_LIMIT:.0f} s (see {log}).")
