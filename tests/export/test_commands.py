"""The stream_<kind>_data commands: every option, the output, and one clear line on failure."""

import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from cdp_bridge.local_time import local_time
from cdp_bridge.models import ExportRun
from tests.testapp.models import Article, Product

from ..conftest import STREAM_ID, command_output, unstyled
from .conftest import ACCOUNT, SOURCES, recorded_run

pytestmark = pytest.mark.django_db

OTHER_STREAM = "ffffffff-eeeeeeee-dddddddd-cccccccc"


def users(count):
    User.objects.bulk_create(
        User(username=f"user{n:03d}", email=f"user{n}@example.com", first_name=f"First{n}")
        for n in range(count)
    )
    return list(User.objects.order_by("pk").values_list("pk", flat=True))


def stream(*args, **kwargs):
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


class Untouched:
    """A user item processor that changes nothing: it makes the export read instances."""

    def process(self, row, user):
        return row


@pytest.mark.parametrize("read_as", ["values", "instances"])
def test_users_without_a_person_identifier_are_skipped_and_counted(
    export_config, receiver, read_as
):
    """Sent, they would all be one person to the CDP (``"None"``, ``""``): the CDP needs an id."""
    activation = {
        "client_id": "raptor",
        "client_secret": "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5",
        "segment_group_identifier": "cdp",
        "person_identifier_field": "email",
    }
    processors = {"processors": {"user_item": [f"{__name__}.Untouched"]}}
    export_config(processors if read_as == "instances" else None, cdp={"activations": [activation]})
    for name, email in [("ada", "ada@example.com"), ("bob", ""), ("cy", "cy@example.com")]:
        User.objects.create(username=name, email=email)
    output = stream("stream_user_data", "--no-draft", "--batch-size", "1", "--no-progress")
    assert [row["id"] for row in receiver.rows] == ["ada@example.com", "cy@example.com"]
    assert output.rstrip().endswith("; skipped 1 user without an id (no person identifier)")
    run = ExportRun.objects.get()
    assert (run.rows, run.skipped, run.batches) == (2, 1, 2)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_default_is_a_draft_of_at_most_100_rows_marked_as_draft(export_config, receiver):
    export_config()
    pks = users(120)
    stream("stream_user_data")
    assert [row["id"] for row in receiver.rows] == pks[:100]
    assert {batch.headers["X-Isdraft"] for batch in receiver.batches} == {"true"}
    run = ExportRun.objects.get()
    assert (run.draft, run.rows, run.status) == (True, 100, ExportRun.Status.SUCCEEDED)


def test_draft_limit_sets_the_sample_size(export_config, receiver):
    export_config()
    users(10)
    stream("stream_user_data", "--draft-limit", "3")
    assert len(receiver.rows) == 3


def test_no_draft_sends_every_row_exactly_once_unmarked(export_config, receiver):
    export_config()
    pks = users(250)
    stream("stream_user_data", "--no-draft")
    assert [row["id"] for row in receiver.rows] == pks
    assert not any("X-Isdraft" in batch.headers for batch in receiver.batches)
    assert ExportRun.objects.get().draft is False


def test_batch_size_limits_the_rows_per_request(export_config, receiver):
    export_config()
    users(5)
    stream("stream_user_data", "--no-draft", "--batch-size", "2")
    assert [len(batch.rows) for batch in receiver.batches] == [2, 2, 1]
    assert ExportRun.objects.get().batches == 3


def test_max_batch_bytes_limits_the_bytes_per_request(export_config, receiver, httpserver):
    export_config(cdp={"data_export": {"user_data": {"max_batch_bytes": 1024}}})
    pks = users(40)
    stream("stream_user_data", "--no-draft")
    assert [row["id"] for row in receiver.rows] == pks
    sizes = [len(request.get_data()) for request, _ in httpserver.log]
    assert len(sizes) > 1
    assert max(sizes) <= 1024


def test_the_user_row_has_the_person_identifier_login_email_and_name(export_config, receiver):
    export_config()
    user = User.objects.create(
        username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )
    User.objects.create(username="anonymous")
    stream("stream_user_data")
    assert receiver.rows == [
        {"id": user.pk, "login": "ada", "email": "ada@example.com", "name": "Ada Lovelace"},
        {"id": user.pk + 1, "login": "anonymous", "email": "", "name": "anonymous"},
    ]
    assert "password" not in str(receiver.rows)


def test_stream_id_overrides_the_scope_stream(export_config, receiver):
    export_config()
    users(1)
    stream("stream_user_data", "--stream-id", OTHER_STREAM)
    assert receiver.batches[0].headers["X-Streamid"] == OTHER_STREAM


def test_a_malformed_stream_id_is_refused_without_showing_it(export_config, receiver):
    export_config()
    with pytest.raises(CommandError) as error:
        stream("stream_user_data", "--stream-id", "not-a-stream-id-at-all")
    assert "is malformed" in str(error.value)
    assert "not-a-stream-id-at-all" not in str(error.value)
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


@pytest.mark.parametrize("option", ["--scope", "--siteaccess"])
def test_scope_and_its_siteaccess_alias_choose_the_account(
    export_config, receiver, httpserver, option
):
    export_config({"system": {"shop_de": {"cdp": {"account_number": 777}}}})
    httpserver.expect_request("/stream/777").respond_with_data("{}")
    users(1)
    stream("stream_user_data", option, "shop_de")
    assert httpserver.log[0][0].path == "/stream/777"
    assert ExportRun.objects.get().scope == "shop_de"


def test_an_unknown_scope_is_one_clear_line(export_config):
    export_config()
    with pytest.raises(
        CommandError, match=re.escape("Unknown scope 'nowhere'. The configured scopes are")
    ):
        stream("stream_user_data", "--scope", "nowhere")
    run = ExportRun.objects.get()
    assert (run.scope, run.status) == ("nowhere", ExportRun.Status.FAILED)


@pytest.mark.parametrize(
    ("command", "option", "column", "value"),
    [
        ("stream_content_data", "--content-type", "content_type", "news"),
        ("stream_product_data", "--product-type", "product_type", "news"),
    ],
)
def test_the_type_option_chooses_the_source(
    export_config, receiver, command, option, column, value
):
    news = {"model": "testapp.Article", "name_field": "title", "filter": {"published": True}}
    export_config({"sources": {"content": {"news": news}, "product": {"news": news}}})
    Article.objects.create(title="Out", published=True)
    Article.objects.create(title="Draft", published=False)
    stream(command, option, "news")
    assert [(row["name"], row[column]) for row in receiver.rows] == [("Out", value)]
    assert ExportRun.objects.get().source == "news"


def test_the_user_source_is_chosen_with_user_content_type(export_config, receiver):
    export_config(
        {"sources": {"user": {"staff": {"model": "auth.User", "filter": {"is_staff": True}}}}}
    )
    User.objects.create(username="boss", is_staff=True)
    User.objects.create(username="customer")
    stream("stream_user_data", "--user-content-type", "staff")
    assert [row["login"] for row in receiver.rows] == ["boss"]


def test_an_unknown_content_type_names_the_known_ones(export_config, receiver):
    export_config()
    with pytest.raises(CommandError) as error:
        stream("stream_content_data", "--content-type", "recipe")
    assert str(error.value) == (
        "Unknown --content-type 'recipe'. The content sources are: article. "
        "Configure it under sources.content.recipe."
    )
    run = ExportRun.objects.get()
    assert (run.source, run.status) == ("recipe", ExportRun.Status.FAILED)
    assert receiver.attempts == 0


def test_several_sources_of_a_kind_need_the_type_option(export_config):
    export_config({"sources": {"product": {"laptop": {"model": "testapp.Product"}}}})
    with pytest.raises(CommandError, match=r"There are 2 product sources \(laptop, product\)"):
        stream("stream_product_data")


def test_the_product_row_has_its_code_and_type(export_config, receiver):
    export_config()
    Product.objects.create(sku="LAP-1", name="Nimbus", product_type="laptop", price="999.90")
    stream("stream_product_data")
    [row] = receiver.rows
    assert {key: row[key] for key in ("code", "product_type", "name", "language_code")} == {
        "code": "LAP-1",
        "product_type": "product",
        "name": "Nimbus",
        "language_code": "en-us",
    }
    assert row["field_price_value"] == 999.9


def test_since_exports_only_rows_modified_after_it(export_config, receiver):
    export_config()
    old = Article.objects.create(title="Old")
    Article.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    Article.objects.create(title="New")
    stream("stream_content_data", "--since", "2025-01-01")
    assert [row["name"] for row in receiver.rows] == ["New"]
    run = ExportRun.objects.get()
    assert run.since.isoformat() == "2025-01-01T00:00:00+00:00"


def test_since_accepts_a_time_with_an_offset(export_config, receiver):
    export_config()
    Article.objects.create(title="New")
    stream("stream_content_data", "--since", "2025-01-01T10:30:00+02:00")
    assert ExportRun.objects.get().since.isoformat() == "2025-01-01T08:30:00+00:00"


def test_since_that_is_not_a_date_is_one_clear_line(export_config, receiver):
    export_config()
    with pytest.raises(CommandError, match="--since 'yesterday' is not a date or time: write"):
        stream("stream_content_data", "--since", "yesterday")
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_since_needs_a_source_with_a_modified_field(export_config, receiver):
    export_config()
    with pytest.raises(CommandError, match=re.escape("sources.user.user has no modified_field")):
        stream("stream_user_data", "--since", "2025-01-01")


def test_since_last_exports_what_changed_after_the_last_full_export(export_config, receiver):
    export_config()
    first = Article.objects.create(title="First")
    stream("stream_content_data", "--since", "last", "--no-draft")  # never exported: everything
    assert [row["name"] for row in receiver.rows] == ["First"]
    full = ExportRun.objects.get()
    Article.objects.filter(pk=first.pk).update(updated_at=full.started_at.replace(year=2020))
    Article.objects.create(title="Second")
    receiver.batches.clear()
    stream("stream_content_data", "--since", "last", "--no-draft")
    assert [row["name"] for row in receiver.rows] == ["Second"]
    assert ExportRun.objects.latest("pk").since == full.started_at


def test_since_last_ignores_drafts_and_failures(export_config, receiver, backoff):
    export_config()
    Article.objects.create(title="First")
    stream("stream_content_data", "--since", "last")  # a draft
    receiver.down_after = len(receiver.batches)
    with pytest.raises(CommandError):
        stream("stream_content_data", "--no-draft")
    receiver.down_after = None
    receiver.batches.clear()
    stream("stream_content_data", "--since", "last", "--no-draft")
    assert [row["name"] for row in receiver.rows] == ["First"]


def test_a_failed_full_export_is_resumed_after_the_last_acknowledged_batch(
    export_config, receiver, backoff
):
    export_config()
    pks = users(10)
    receiver.down_after = 2  # two batches, then the CDP is down
    with pytest.raises(CommandError, match="did not accept batch 3 within the retry budget"):
        stream("stream_user_data", "--no-draft", "--batch-size", "2")
    receiver.down_after = None
    failed = ExportRun.objects.get()
    assert (failed.status, failed.rows, failed.batches) == (ExportRun.Status.FAILED, 4, 2)
    assert failed.last_acknowledged_key == str(pks[3])
    assert [row["id"] for row in receiver.rows] == pks[:4]

    stream("stream_user_data", "--no-draft", "--batch-size", "2", "--resume")
    assert [row["id"] for row in receiver.rows] == pks  # nothing skipped, nothing twice
    resumed = ExportRun.objects.latest("pk")
    assert (resumed.status, resumed.rows, resumed.resumed_from) == (
        ExportRun.Status.SUCCEEDED,
        6,
        failed,
    )


def test_a_resumed_export_keeps_the_failed_runs_since(export_config, receiver, backoff):
    export_config()
    old = Article.objects.create(title="Old")
    Article.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    Article.objects.create(title="New 1")
    Article.objects.create(title="New 2")
    receiver.down_after = 1
    with pytest.raises(CommandError):
        stream("stream_content_data", "--no-draft", "--batch-size", "1", "--since", "2025-01-01")
    receiver.down_after = None
    stream("stream_content_data", "--no-draft", "--batch-size", "1", "--resume")
    assert [row["name"] for row in receiver.rows] == ["New 1", "New 2"]


def test_resume_needs_a_failed_full_export(export_config, receiver):
    export_config()
    users(1)
    with pytest.raises(CommandError, match="There is no failed full export of this stream"):
        stream("stream_user_data", "--no-draft", "--resume")
    stream("stream_user_data", "--no-draft")
    succeeded = r"the last one succeeded on \d{4}-\d\d-\d\d \d\d:\d\d UTC\)"
    with pytest.raises(CommandError, match=succeeded):
        stream("stream_user_data", "--no-draft", "--resume")


def killed_run(last_key, rows, heartbeat_age):
    """A full export whose process was killed after ``rows`` rows, ``heartbeat_age`` ago."""
    return recorded_run(
        rows=rows,
        batches=rows // 2,
        last_acknowledged_key=str(last_key),
        heartbeat_at=timezone.now() - heartbeat_age,
    )


def test_resume_continues_a_run_whose_process_died_and_says_which(
    export_config, receiver, settings
):
    settings.TIME_ZONE = "America/New_York"
    export_config()
    pks = users(6)
    killed = killed_run(pks[3], 4, timedelta(minutes=6))
    heartbeat = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2, minutes=5)
    ExportRun.objects.filter(pk=killed.pk).update(
        started_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC), heartbeat_at=heartbeat
    )
    output = stream("stream_user_data", "--no-draft", "--batch-size", "2", "--resume")
    assert output.splitlines()[0] == (
        f"Continuing export run {killed.pk} (interrupted, started 2026-12-01 10:30 EST; its "
        f"heartbeat stopped at {local_time(heartbeat)}, 2 hours, 5 minutes ago) after the 4 "
        f"users it sent, from key {pks[3]}."
    )
    assert [row["id"] for row in receiver.rows] == pks[4:]
    killed.refresh_from_db()
    assert killed.status == ExportRun.Status.INTERRUPTED
    assert ExportRun.objects.latest("pk").resumed_from == killed


def test_resume_refuses_to_continue_a_run_that_is_still_alive(export_config, receiver):
    export_config()
    pks = users(6)
    alive = killed_run(pks[3], 4, timedelta(seconds=20))
    with pytest.raises(
        CommandError, match=f"Export run {alive.pk} of this stream is still running"
    ):
        stream("stream_user_data", "--no-draft", "--resume")
    assert receiver.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_a_run_renews_its_heartbeat_while_it_waits_for_the_cdp(
    export_config, receiver, httpserver, monkeypatch
):
    export_config()
    users(1)
    monkeypatch.setattr("cdp_bridge.export.runner.HEARTBEAT_EVERY", timedelta(milliseconds=20))

    def answer_once_the_heartbeat_was_renewed(request):
        try:
            run = ExportRun.objects.get()
            deadline = time.monotonic() + 30
            while ExportRun.objects.get().heartbeat_at == run.heartbeat_at:
                assert time.monotonic() < deadline, "no heartbeat while the CDP was slow"
                time.sleep(0.01)
        finally:
            connection.close()  # the server thread's own
        return receiver.handle(request)

    httpserver.clear_all_handlers()
    httpserver.expect_request(f"/stream/{ACCOUNT}").respond_with_handler(
        answer_once_the_heartbeat_was_renewed
    )
    stream("stream_user_data")
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.SUCCEEDED
    assert run.heartbeat_at > run.started_at


def test_resume_continues_full_exports_only(export_config):
    export_config()
    with pytest.raises(CommandError, match="--resume continues a full export: add --no-draft"):
        stream("stream_user_data", "--resume")


def test_every_row_arrives_when_a_third_of_the_requests_fail_transiently(
    export_config, receiver, backoff
):
    export_config()
    pks = users(60)
    receiver.fail_every(3, [503, (429, "1"), "reset", 500, 502, 504])
    stream("stream_user_data", "--no-draft", "--batch-size", "3")
    assert sorted({row["id"] for row in receiver.rows}) == pks
    failures = receiver.attempts - len(receiver.batches)
    assert failures == receiver.attempts // 3 >= 9
    assert ExportRun.objects.get().status == ExportRun.Status.SUCCEEDED


def test_a_long_export_over_a_flaky_cdp_finishes_by_itself(export_config, receiver, backoff):
    """100,000 rows; a third of the requests fail, in bursts of ten (a CDP restarting)."""
    export_config()
    User.objects.bulk_create(
        (User(username=f"user{n:06d}") for n in range(100_000)), batch_size=10_000
    )
    pks = list(User.objects.order_by("pk").values_list("pk", flat=True))
    burst = [503, (429, "86400"), "reset", 500, 502, 504, 503, 408, "reset", 503]
    receiver.cycle([*burst, *[200] * 20])
    output = stream("stream_user_data", "--no-draft")
    assert [row["id"] for row in receiver.rows] == pks  # each row once, in order
    assert receiver.attempts == 150
    assert receiver.attempts - len(receiver.batches) == 50
    run = ExportRun.objects.get()
    assert (run.status, run.rows, run.batches) == (ExportRun.Status.SUCCEEDED, 100_000, 100)
    assert output.startswith("Streamed 100000 users in 100 batches")
    assert 120.0 in backoff  # the day of Retry-After, cut to max_retry_after


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_rejected_batch_ends_the_command_with_the_status(export_config, httpserver, status):
    export_config()
    httpserver.expect_request(f"/stream/{ACCOUNT}").respond_with_data("nope", status=status)
    users(3)
    with pytest.raises(CommandError, match=f"rejected batch 1 with HTTP {status}"):
        stream("stream_user_data")
    run = ExportRun.objects.get()
    assert run.status == ExportRun.Status.FAILED
    assert f"HTTP {status}" in run.error


def test_an_unreachable_cdp_fails_the_run(export_config, backoff):
    export_config(cdp={"stream_base_url": "http://127.0.0.1:9"})
    users(1)
    with pytest.raises(CommandError, match="Connection refused"):
        stream("stream_user_data")
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_a_scope_without_an_account_number_is_one_clear_line(cdp_config):
    stream_only = {"data_export": {"user_data": {"stream_file": {"stream_id": STREAM_ID}}}}
    cdp_config({"system": {"shop": {"cdp": stream_only}}})
    with pytest.raises(CommandError) as error:
        stream("stream_user_data", "--scope", "shop")
    assert str(error.value) == (
        "Scope 'shop' has no account number: set system.shop.cdp.account_number (the account "
        "list at the top right of the CDP dashboard)."
    )
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_a_scope_without_a_stream_id_is_one_clear_line(cdp_config):
    cdp_config({"system": {"default": {"cdp": {"account_number": ACCOUNT}}}, "sources": SOURCES})
    with pytest.raises(
        CommandError, match=re.escape("set system.default.cdp.data_export.product_data")
    ):
        stream("stream_product_data")


def test_options_from_a_schedule_string_work_and_an_unknown_flag_is_refused(
    export_config, receiver
):
    export_config()
    Article.objects.create(title="Scheduled")
    stream("stream_content_data", *shlex.split("--no-draft --content-type=article"))
    assert [row["name"] for row in receiver.rows] == ["Scheduled"]
    with pytest.raises(CommandError, match="unrecognized arguments: --draftt"):
        stream("stream_content_data", *shlex.split("--draftt"))


@pytest.mark.parametrize(
    "command", ["stream_user_data", "stream_content_data", "stream_product_data"]
)
@pytest.mark.parametrize("flags", [("--draft", "--no-draft"), ("--no-draft", "--draft")])
def test_draft_and_no_draft_together_are_refused_rather_than_the_last_one_winning(
    export_config, receiver, command, flags
):
    export_config()
    users(2)
    with pytest.raises(CommandError, match=r"argument --\S+: not allowed with argument --"):
        stream(command, *flags)
    assert receiver.batches == []
    assert ExportRun.objects.count() == 0


def test_draft_and_no_draft_together_on_the_command_line_exit_non_zero_in_one_line(tmp_path):
    environment = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "django", "stream_user_data", "--draft", "--no-draft"],
        capture_output=True,
        text=True,
        env=environment | {"DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    # argparse's usage, then the one line that says what is wrong.
    assert result.stderr.splitlines()[-1].endswith(
        "error: argument --no-draft: not allowed with argument --draft"
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_the_last_line_is_a_summary(export_config, receiver):
    export_config()
    users(3)
    output = stream("stream_user_data", "--no-draft")
    assert output.startswith("Streamed 3 users in 1 batch to stream 0a1b…4c5d (full) in "), output
    assert output.rstrip().endswith("rows/s)")
    assert STREAM_ID not in output


def test_verbosity_two_prints_a_line_per_batch_and_three_the_payloads(export_config, receiver):
    export_config()
    users(3)
    output = stream("stream_user_data", "--batch-size", "2", verbosity=2)
    lines = output.splitlines()
    assert lines[0].startswith("Batch 1: 2 rows, ")
    assert lines[1].startswith("Batch 2: 1 row, ")  # in agreement with its number
    assert lines[2].startswith("Streamed 3 users in 2 batches")
    payloads = stream("stream_user_data", "--batch-size", "2", verbosity=3)
    assert '"login":"user000"' in payloads


def test_verbosity_zero_prints_nothing(export_config, receiver):
    export_config()
    users(1)
    assert stream("stream_user_data", verbosity=0) == ""


def test_a_terminal_gets_a_progress_bar_unless_no_progress(export_config, receiver):
    export_config()
    users(5)
    terminal = Terminal()
    call_command("stream_user_data", "--no-draft", "--batch-size", "2", stdout=terminal)
    shown = terminal.getvalue()
    assert "\r[" in shown
    assert "5/5 users" in shown
    assert "rows/s  ETA" in shown
    assert shown.splitlines()[-1].startswith("Streamed 5 users")
    quiet = Terminal()
    call_command("stream_user_data", "--no-draft", "--no-progress", stdout=quiet)
    assert "\r[" not in quiet.getvalue()


def test_the_file_transport_writes_batches_under_a_directory_relative_to_the_cwd(
    export_config, tmp_path, monkeypatch
):
    export_config(
        cdp={"data_export": {"user_data": {"transport": "file", "file": {"directory": "out/user"}}}}
    )
    monkeypatch.chdir(tmp_path)
    users(3)
    output = stream("stream_user_data", "--no-draft", "--batch-size", "2")
    run = ExportRun.objects.get()
    (directory,) = (tmp_path / "out" / "user").iterdir()
    assert re.fullmatch(rf"run-{run.pk:06d}-full-\d{{8}}T\d{{6}}Z-[0-9a-f]{{6}}", directory.name)
    assert sorted(path.name for path in directory.iterdir()) == [
        "batch-000001.json",
        "batch-000002.json",
    ]
    assert f"to {directory} (full)" in output
    assert run.destination == str(directory)


def restart_run_ids():
    """As in a new database: no runs, and the next run's id is 1."""
    ExportRun.objects.all().delete()
    table = ExportRun._meta.db_table
    sequences = [s for s in connection.introspection.sequence_list() if s["table"] == table]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_by_name_sql(no_style(), sequences):
            cursor.execute(statement)


def test_the_file_transport_never_overwrites_an_export_of_another_database(export_config, tmp_path):
    """Two sites (or a site and its rebuilt database) share a folder: run ids repeat."""
    export_config(
        cdp={
            "data_export": {
                "user_data": {"transport": "file", "file": {"directory": str(tmp_path)}}
            }
        }
    )
    users(3)
    restart_run_ids()
    stream("stream_user_data", "--no-draft")
    first = ExportRun.objects.get()
    first_batch = Path(first.destination) / "batch-000001.json"
    written = first_batch.read_bytes()

    restart_run_ids()
    User.objects.filter(username="user000").update(username="someone-else")
    stream("stream_user_data", "--no-draft")
    second = ExportRun.objects.get()
    assert second.pk == first.pk == 1
    assert second.destination != first.destination
    assert first_batch.read_bytes() == written  # what the earlier admin points at is intact
    assert b"someone-else" in (Path(second.destination) / "batch-000001.json").read_bytes()
    assert len(list(tmp_path.iterdir())) == 2


def test_the_memory_transport_fills_the_outbox(export_config):
    from cdp_bridge.testing import outbox

    export_config(cdp={"data_export": {"user_data": {"transport": "memory"}}})
    users(2)
    output = stream("stream_user_data")
    assert [row["login"] for batch in outbox for row in batch.rows] == ["user000", "user001"]
    assert "to the memory outbox" in output


def test_every_run_is_recorded(export_config, receiver):
    export_config()
    pks = users(3)
    stream("stream_user_data", "--no-draft", "--batch-size", "2")
    run = ExportRun.objects.get()
    assert (run.kind, run.scope, run.source, run.transport) == (
        "user",
        "default",
        "user",
        "stream_file",
    )
    assert (run.stream_id, run.draft, run.rows, run.batches) == (STREAM_ID, False, 3, 2)
    assert run.last_acknowledged_key == str(pks[-1])
    assert run.finished_at >= run.started_at
    assert run.error == ""


@pytest.mark.django_db(transaction=True)
def test_sigterm_ends_a_retry_after_wait_with_one_line_and_resume_continues(
    streaming_site, receiver
):
    """A real process, waiting out the hour a CDP asked for, stopped by a deployment."""
    site = streaming_site
    receiver.outcomes = [200, (503, "86400")]
    receiver.down_after = 1
    export = subprocess.Popen(
        [sys.executable, "-m", "django", "stream_user_data", "--no-draft", "--batch-size", "2"],
        cwd=ROOT,
        env=site.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while receiver.attempts < 2:  # batch 1 accepted, batch 2 told to wait a day
            assert time.monotonic() < deadline and export.poll() is None, export.stderr
            time.sleep(0.05)
        export.send_signal(signal.SIGTERM)
        _, errors = export.communicate(timeout=30)
    finally:
        export.kill()
    assert export.returncode == 1
    assert errors.splitlines()[-1] == (
        "CommandError: Stopped by SIGTERM. A full export continues with --resume."
    ), errors
    assert "waiting 3600 s, the most stream_file.max_retry_after allows" in errors
    assert "Traceback" not in errors
    assert site.query("list(ExportRun.objects.values_list('status', 'rows'))") == [
        ["interrupted", 2]
    ]

    receiver.down_after = None
    resumed = site.manage("stream_user_data", "--no-draft", "--batch-size", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Continuing export run 1 (interrupted, started ")
    assert sorted(row["id"] for row in receiver.rows) == [1, 2, 3, 4, 5]


def test_a_failure_from_the_command_line_is_one_line_and_a_non_zero_exit(tmp_path):
    # A fresh process on a database that was never migrated: the export cannot be recorded.
    environment = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "django", "stream_user_data", "--settings=tests.settings"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("CommandError: The export stopped: The database refused: ")
    assert "run manage.py migrate" in result.stderr
    assert "Traceback" not in result.stderr


ROOT = Path(__file__).resolve().parents[2]


def test_force_color_shows_the_summary_as_a_success_and_plain_output_has_no_colour(
    export_config, receiver, palette
):
    export_config()
    users(2)
    plain, _ = command_output("stream_user_data")
    assert "\x1b[" not in plain
    coloured, _ = command_output("stream_user_data", force_color=True)
    (summary_line,) = coloured.splitlines()
    assert unstyled(summary_line).startswith("Streamed 2 users in 1 batch to stream 0a1b…4c5d")
    assert summary_line == palette.SUCCESS(unstyled(summary_line))


def test_force_color_shows_which_run_a_resume_continues_as_a_notice(
    export_config, receiver, palette
):
    export_config()
    pks = users(4)
    killed_run(pks[1], 2, timedelta(minutes=6))
    out, _ = command_output("stream_user_data", "--no-draft", "--resume", force_color=True)
    note = out.splitlines()[0]
    assert unstyled(note).startswith("Continuing export run ")
    assert note == palette.NOTICE(unstyled(note))
