"""run_export(): the Python API the commands, the schedule and the tasks call, and its record."""

import re

import pytest
from django.contrib.auth.models import User

from cdp_bridge.exceptions import BatchRejected, CdpUnavailable, ExportError
from cdp_bridge.export.runner import ExportOptions, run_export
from cdp_bridge.models import ExportRun

from .conftest import ACCOUNT

pytestmark = pytest.mark.django_db


def test_run_export_returns_the_recorded_run(export_config, receiver):
    export_config()
    User.objects.create(username="ada")
    run = run_export(ExportOptions("user", draft=False))
    assert run == ExportRun.objects.get()
    assert (run.status, run.rows, run.batches) == (ExportRun.Status.SUCCEEDED, 1, 1)


def test_a_failed_run_raises_with_the_run_recorded_as_failed(export_config, httpserver):
    export_config()
    httpserver.expect_request(f"/stream/{ACCOUNT}").respond_with_data("bad", status=400)
    User.objects.create(username="ada")
    with pytest.raises(BatchRejected) as error:
        run_export(ExportOptions("user"))
    run = error.value.run
    assert run == ExportRun.objects.get()
    assert run.status == ExportRun.Status.FAILED
    assert run.error == str(error.value)
    assert run.finished_at is not None


def test_transient_failures_that_outlast_the_retries_are_cdp_unavailable(
    export_config, receiver, backoff
):
    export_config()
    User.objects.create(username="ada")
    receiver.down_after = 0
    with pytest.raises(CdpUnavailable) as error:
        run_export(ExportOptions("user"))
    assert error.value.run.status == ExportRun.Status.FAILED


def test_an_unknown_kind_is_a_programming_error():
    # Callers pass a kind from the code, never from a user: a ValueError, not an ExportError.
    with pytest.raises(ValueError, match="kind must be one of user, content, product"):
        ExportOptions("customer")


def test_a_bad_limit_is_refused_and_recorded(export_config):
    export_config()
    with pytest.raises(ExportError, match="--batch-size must be at least 1, not 0"):
        run_export(ExportOptions("user", batch_size=0))
    with pytest.raises(ExportError, match="--draft-limit must be at least 1"):
        run_export(ExportOptions("user", draft_limit=0))
    assert set(ExportRun.objects.values_list("status", flat=True)) == {"failed"}


def test_a_broken_configuration_fails_the_run_with_the_key_path(cdp_config):
    cdp_config({"system": {"default": {"cdp": {"account_number": "abc"}}}})
    with pytest.raises(ExportError, match=re.escape("system.default.cdp.account_number")):
        run_export(ExportOptions("user"))
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_a_resumed_chain_counts_its_window_from_the_first_attempt(export_config, receiver, backoff):
    export_config()
    User.objects.bulk_create(User(username=f"u{n}") for n in range(4))
    receiver.down_after = 1
    with pytest.raises(CdpUnavailable):
        run_export(ExportOptions("user", draft=False, batch_size=2))
    first = ExportRun.objects.get()
    receiver.down_after = None
    resumed = run_export(ExportOptions("user", draft=False, batch_size=2, resume=True))
    assert resumed.resumed_from == first
    assert resumed.window_start == first.started_at
