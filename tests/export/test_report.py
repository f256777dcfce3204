"""What a command shows of a run: the summary, the progress bar, lines per batch, --resume."""

import io
from datetime import timedelta

import pytest
from django.core.management.base import OutputWrapper

from cdp_bridge.export.batches import Batch
from cdp_bridge.export.report import ProgressReport, resumption, summary
from cdp_bridge.models import ExportRun

pytestmark = pytest.mark.django_db


def finished_run(kind="user", rows=1000, batches=1, seconds=2.0, draft=False):
    run = ExportRun.objects.create(
        kind=kind,
        scope="default",
        draft=draft,
        rows=rows,
        batches=batches,
        destination="stream 0a1b…4c5d",
    )
    run.finished_at = run.started_at + timedelta(seconds=seconds)
    return run


def report(**flags):
    out = io.StringIO()
    options = {"notes": True, "bar": False, "lines": False, "payloads": False, **flags}
    return ProgressReport(OutputWrapper(out), **options), out


@pytest.mark.parametrize(
    ("kind", "rows", "batches", "draft", "expected"),
    [
        ("user", 1000, 1, False, "Streamed 1000 users in 1 batch to stream 0a1b…4c5d (full)"),
        ("user", 1, 1, True, "Streamed 1 user in 1 batch to stream 0a1b…4c5d (draft)"),
        ("content", 2, 2, False, "Streamed 2 content items in 2 batches to stream 0a1b…4c5d"),
        ("product", 1, 3, False, "Streamed 1 product in 3 batches to stream 0a1b…4c5d (full)"),
    ],
)
def test_the_summary_counts_rows_and_batches_in_words(kind, rows, batches, draft, expected):
    assert summary(finished_run(kind, rows, batches, draft=draft)).startswith(expected)


def test_the_summary_gives_the_time_and_the_rate():
    assert summary(finished_run(rows=1000, seconds=2.0)).endswith(" in 2.0 s (500 rows/s)")


def test_a_run_that_took_no_measurable_time_has_no_rate():
    assert summary(finished_run(rows=3, seconds=0)).endswith(" in 0.0 s")


def test_a_line_per_batch_and_its_payload_at_higher_verbosity():
    progress, out = report(lines=True, payloads=True)
    run = finished_run(rows=2)
    progress.started(run, count_rows=lambda: pytest.fail("only the bar needs a count"))
    progress.batch_sent(run, Batch(1, b'[{"id":1},{"id":2}]', 2, 2), 0.0125)
    assert out.getvalue().splitlines() == [
        "Batch 1: 2 rows, 19 bytes, accepted in 0.013 s (2 rows so far)",
        '[{"id":1},{"id":2}]',
    ]


def test_the_bar_shows_the_share_done_and_ends_on_a_line_of_its_own():
    progress, out = report(bar=True)
    run = finished_run(rows=0)
    progress.started(run, count_rows=lambda: 4)
    run.rows = 4
    progress.batch_sent(run, Batch(1, b"[]", 4, 4), 0.01)
    progress.end_line()
    shown = out.getvalue()
    assert shown.startswith("\r[........................]   0% 0/4 users")
    assert "\r[########################] 100% 4/4 users" in shown
    assert shown.endswith("\n")


def test_without_a_bar_ending_the_report_writes_nothing():
    progress, out = report()
    progress.end_line()
    assert out.getvalue() == ""


def test_a_resumed_run_says_which_run_it_continues_and_from_where():
    earlier = ExportRun.objects.create(
        kind="user",
        scope="default",
        draft=False,
        rows=4,
        status="interrupted",
        last_acknowledged_key="17",
    )
    run = ExportRun.objects.create(kind="user", scope="default", draft=False, resumed_from=earlier)
    assert resumption(ExportRun.objects.create(kind="user", scope="default")) is None
    note = resumption(run)
    assert note.startswith(f"Continuing export run {earlier.pk} (interrupted, started ")
    assert note.endswith(") after the 4 users it sent, from key 17.")
    progress, out = report()
    progress.started(run, count_rows=lambda: 0)
    assert out.getvalue() == note + "\n"
    quiet, nothing = report(notes=False)
    quiet.started(run, count_rows=lambda: 0)
    assert nothing.getvalue() == ""
