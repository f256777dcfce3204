"""export_finished: sent for every ending of a run, once it is recorded; a raising receiver
neither fails the export nor keeps the other receivers from hearing of it."""

import io
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from cdp_bridge import signals
from cdp_bridge.exceptions import BatchRejected
from cdp_bridge.export.runner import ExportOptions, run_export
from cdp_bridge.models import ExportRun

from .conftest import ACCOUNT, recorded_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_users(export_config):
    export_config()
    User.objects.create(username="ada")
    User.objects.create(username="grace")


def finished(heard):
    """The status of each run export_finished was sent for, as the receiver saw it."""
    return [(sent["run"].pk, sent["run"].status) for sent in heard.of("export_finished")]


def test_a_run_that_succeeds_is_sent_once_recorded(two_users, receiver, heard, committed):
    with committed():
        run = run_export(ExportOptions("user", draft=False))
    assert finished(heard) == [(run.pk, "succeeded")]
    (sent,) = heard.of("export_finished")
    assert sent["run"].rows == 2
    assert sent["run"].finished_at is not None
    assert heard.calls[0][1] is ExportRun  # the sender


def test_a_run_that_fails_is_sent(two_users, httpserver, heard, committed):
    httpserver.expect_request(f"/stream/{ACCOUNT}").respond_with_data("no", status=400)
    with committed(), pytest.raises(BatchRejected) as error:
        run_export(ExportOptions("user"))
    assert finished(heard) == [(error.value.run.pk, "failed")]
    assert heard.of("export_finished")[0]["run"].error == str(error.value)


class Stopper:
    """An observer that stops the run after its first batch, as Ctrl-C or SIGTERM would."""

    def started(self, run, count_rows):
        pass

    def batch_sent(self, run, batch, seconds):
        raise KeyboardInterrupt("Stopped by SIGTERM.")


def test_a_run_that_is_interrupted_is_sent(two_users, receiver, heard, committed):
    with committed(), pytest.raises(KeyboardInterrupt):
        run_export(ExportOptions("user", draft=False, batch_size=1), Stopper())
    run = ExportRun.objects.get()
    assert finished(heard) == [(run.pk, "interrupted")]
    assert heard.of("export_finished")[0]["run"].rows == 1


def test_a_run_whose_process_died_is_sent_when_its_lapsed_heartbeat_is_noticed(heard, committed):
    long_ago = timezone.now() - timedelta(hours=1)
    dead = recorded_run(started_at=long_ago, heartbeat_at=long_ago)
    recorded_run()  # running, and alive
    assert heard.calls == []
    with committed():
        assert ExportRun.objects.mark_interrupted() == 1
    assert finished(heard) == [(dead.pk, "interrupted")]
    with committed():
        assert ExportRun.objects.mark_interrupted() == 0  # noticed once, sent once
    assert len(heard.calls) == 1


def test_the_signal_waits_for_the_transaction_the_run_is_recorded_in(
    two_users, receiver, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        run_export(ExportOptions("user", draft=False))
    assert heard.calls == []
    for callback in after_commit:
        callback()
    assert finished(heard) == [(ExportRun.objects.get().pk, "succeeded")]


@pytest.mark.django_db(transaction=True)  # committed as the command commits, in the middle
def test_a_receiver_that_raises_does_not_fail_the_export(two_users, receiver, heard, caplog):
    def broken(sender, run, **kwargs):
        raise ConnectionError("the chat service is down")

    signals.export_finished.connect(broken)
    out = io.StringIO()
    try:
        with caplog.at_level(logging.ERROR):
            call_command("stream_user_data", "--no-draft", stdout=out)
    finally:
        signals.export_finished.disconnect(broken)
    assert out.getvalue().startswith("Streamed 2 users in 1 batch")
    assert ExportRun.objects.get().status == "succeeded"
    assert finished(heard) == [(ExportRun.objects.get().pk, "succeeded")]
    (record,) = caplog.records
    assert (record.name, record.levelname, record.exc_info[0]) == (
        "cdp_bridge.signals",
        "ERROR",
        ConnectionError,
    )
    assert "cdp_bridge.signals.export_finished" in record.getMessage()
