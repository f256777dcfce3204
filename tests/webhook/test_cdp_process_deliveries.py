"""``manage.py cdp_process_deliveries [--loop]``."""

import io
import queue
import signal
import sys
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from cdp_bridge.management.loop import CommandLoop
from cdp_bridge.models import WebhookDelivery

from ..conftest import command_output
from ..standalone import standalone_site
from .conftest import audience, delivery, ids, members, post
from .test_deliveries import fail_membership_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_delivery(client, group, users, configure):
    """Queue a delivery of the users at ``indexes`` (every delivery is queued)."""
    configure(bulk_async_threshold=1)

    def add(*indexes):
        post(client, delivery(audience(members=ids([users[i] for i in indexes]))))

    return add


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("cdp_process_deliveries", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_applies_the_queued_deliveries_and_says_so(queue_delivery):
    queue_delivery(0, 1)
    queue_delivery(2)
    out, _ = run()
    assert out == (
        "Processed 2 queued deliveries: 2 applied, 0 failed (see the admin's webhook deliveries).\n"
    )
    assert members("5d822e81") == {"user2"}


def test_limit_bounds_one_pass(queue_delivery):
    queue_delivery(0)
    queue_delivery(1)
    assert run("--limit", "1")[0].startswith("Processed 1 queued delivery")
    assert WebhookDelivery.objects.filter(status="queued").count() == 1


def test_loop_keeps_waiting_for_deliveries_until_sigterm(queue_delivery, monkeypatch):
    naps = []

    def pause(loop, seconds):
        naps.append(seconds)
        if len(naps) == 1:
            queue_delivery(3)  # arrives while the loop waits
        elif len(naps) == 3:
            loop.request_stop(signal.SIGTERM, None)

    queue_delivery(0)
    monkeypatch.setattr(CommandLoop, "pause", pause)
    out, _ = run("--loop", "--interval", "2")
    processed = (
        "Processed 1 queued delivery: 1 applied, 0 failed (see the admin's webhook deliveries)."
    )
    assert out.splitlines() == [
        "Applying queued deliveries, looking every 2 s; stop with SIGTERM or Ctrl-C.",
        processed,
        processed,
        "Stopping after the current pass (send the signal again to stop now).",
        "Stopped.",
    ]
    # After a pass that applied something the loop looks again at once; idle, it waits.
    assert naps == [0.0, 0.0, 2.0]
    assert members("5d822e81") == {"user3"}


def test_an_unreachable_database_is_one_clear_line(queue_delivery, monkeypatch):
    queue_delivery(0)

    def unavailable(limit=None):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(
        "cdp_bridge.management.commands.cdp_process_deliveries.process_queued", unavailable
    )
    with pytest.raises(CommandError) as error:
        run()
    assert str(error.value) == (
        "The database refused: could not connect to server. Check that it is reachable, and "
        "run manage.py migrate if the cdp_bridge tables are missing."
    )


def test_a_broken_configuration_is_one_clear_line(db, settings):
    settings.CDP_BRIDGE = {"bulk_async_threshold": "many"}
    with pytest.raises(CommandError, match="bulk_async_threshold: must be a whole number"):
        run()


ACTIVATION_AUTH = "Basic cmFwdG9yOmszVnE5LXJUMndYeTdacDRMbU44YkM2ZEYwZ0gxalM1"  # raptor:<secret>
QUEUE_A_DELIVERY = f"""
import json
from django.contrib.auth.models import User
from django.test import Client
from cdp_bridge.models import SegmentGroup
User.objects.bulk_create([User(username=f"u{{i}}") for i in range(1, 4)])
SegmentGroup.objects.create(identifier="cdp_audiences", name="CDP")
cats = {{"id": "cats", "name": "Cats", "sync": "full", "members": ["1", "2", "3"]}}
body = {{"segment_group_identifier": "cdp_audiences", "audiences": [cats]}}
answer = Client().post("/cdp/webhook", json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION="{ACTIVATION_AUTH}")
assert answer.status_code == 202, answer.content
"""


@pytest.fixture
def unmigrated_site(tmp_path):
    """A site whose database has no tables yet (SQLite, or PostgreSQL under DATABASE_URL)."""
    environment = {"CDP_EXPORT_DIR": str(tmp_path), "REDIS_URL": "memory://"}
    yield from standalone_site(tmp_path, "tests.settings_standalone", environment, migrated=False)


@pytest.mark.django_db(transaction=True)
def test_loop_waits_out_missing_tables_then_applies_deliveries(unmigrated_site):
    """A database being restored, or a deploy still migrating: the loop stays up and waits."""
    site = unmigrated_site
    loop = site.start(
        sys.executable, "-m", "django", "cdp_process_deliveries", "--loop", "--interval", "0.2"
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in loop.stdout], daemon=True).start()

    def next_line_containing(text):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert loop.poll() is None, "the loop exited"
                continue
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}")

    try:
        refused = next_line_containing("The database refused")
        assert refused.rstrip().endswith("Trying again in 0.2 s."), refused
        migrated = site.manage("migrate", "-v", "0", "--skip-checks")
        assert migrated.returncode == 0, migrated.stderr
        queued = site.manage("shell", "-c", QUEUE_A_DELIVERY)
        assert queued.returncode == 0, queued.stderr
        next_line_containing("Processed 1 queued delivery: 1 applied")
        loop.send_signal(signal.SIGTERM)
        next_line_containing("Stopped.")
        assert loop.wait(timeout=30) == 0
    finally:
        loop.kill()
    assert site.query("SegmentMembership.objects.filter(segment__identifier='cats').count()") == 3


def test_in_colour_a_clean_pass_is_a_success_and_one_with_failures_a_warning(
    queue_delivery, palette, monkeypatch
):
    see = "(see the admin's webhook deliveries)."
    queue_delivery(0)
    out, _ = command_output("cdp_process_deliveries", force_color=True)
    assert out == palette.SUCCESS(f"Processed 1 queued delivery: 1 applied, 0 failed {see}") + "\n"
    queue_delivery(1)
    queue_delivery(2)
    fail_membership_writes(monkeypatch, RuntimeError("boom"))
    out, _ = command_output("cdp_process_deliveries", force_color=True)
    failed = f"Processed 2 queued deliveries: 0 applied, 2 failed {see}"
    assert out == palette.WARNING(failed) + "\n"
    queue_delivery(3)
    assert "\x1b[" not in command_output("cdp_process_deliveries")[0]
