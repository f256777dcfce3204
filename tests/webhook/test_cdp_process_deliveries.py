"""``manage.py cdp_process_deliveries [--loop]``."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from cdp_bridge.models import WebhookDelivery

from .conftest import audience, delivery, ids, members, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(client, group, users, configure):
    """Queue a delivery of the users at ``indexes`` (every delivery is queued)."""
    configure(bulk_async_threshold=1)

    def add(*indexes):
        post(client, delivery(audience(members=ids([users[i] for i in indexes]))))

    return add


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("cdp_process_deliveries", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_applies_the_queued_deliveries_and_says_so(queue):
    queue(0, 1)
    queue(2)
    out, _ = run()
    assert out == (
        "Processed 2 queued deliveries: 2 applied, 0 failed (see the admin's webhook deliveries).\n"
    )
    assert members("5d822e81") == {"user2"}


def test_limit_bounds_one_pass(queue):
    queue(0)
    queue(1)
    assert run("--limit", "1")[0].startswith("Processed 1 queued deliveries")
    assert WebhookDelivery.objects.filter(status="queued").count() == 1


def test_loop_keeps_waiting_for_deliveries_until_stopped(queue, monkeypatch):
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 1:
            queue(3)  # arrives while the loop waits
        else:
            raise KeyboardInterrupt

    queue(0)
    monkeypatch.setattr("time.sleep", sleep)
    out, _ = run("--loop", "--interval", "2")
    assert out.splitlines() == [
        "Processed 1 queued deliveries: 1 applied, 0 failed (see the admin's webhook deliveries).",
        "Processed 1 queued deliveries: 1 applied, 0 failed (see the admin's webhook deliveries).",
        "Stopped.",
    ]
    assert naps == [2.0, 2.0]
    assert members("5d822e81") == {"user3"}


def test_an_unavailable_database_is_one_clear_line_or_waited_out_in_a_loop(queue, monkeypatch):
    queue(0)

    def unavailable(limit=None):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(
        "cdp_bridge.management.commands.cdp_process_deliveries.process_queued", unavailable
    )
    with pytest.raises(CommandError, match="The database is unavailable: could not connect"):
        run()

    def stop(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", stop)
    monkeypatch.setattr("django.db.connection.close", lambda: None)  # the test's transaction
    out, err = run("--loop")
    assert err == "The database is unavailable, trying again: could not connect to server\n"
    assert out == "Stopped.\n"


def test_a_broken_configuration_is_one_clear_line(db, settings):
    settings.CDP_BRIDGE = {"bulk_async_threshold": "many"}
    with pytest.raises(CommandError, match="bulk_async_threshold: must be a whole number"):
        run()
