"""What a command shows of a run: the summary, the progress bar, lines per batch, --resume."""

import io
import logging
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management.base import OutputWrapper
from django.core.management.color import no_style

from cdp_bridge.export.batches import Batch
from cdp_bridge.export.report import ProgressReport, resumption, summary
from cdp_bridge.models import ExportRun

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


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


def report(out=None, **flags):
    out = out if out is not None else io.StringIO()
    options = {"notes": True, "bar": False, "lines": False, "payloads": False, **flags}
    return ProgressReport(OutputWrapper(out), no_style(), **options), out


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
    with progress:
        progress.started(run, count_rows=lambda: 4)
        run.rows = 4
        progress.batch_sent(run, Batch(1, b"[]", 4, 4), 0.01)
    shown = out.getvalue()
    assert shown.startswith("\r[........................]   0% 0/4 users")
    assert "\r[########################] 100% 4/4 users" in shown
    assert shown.endswith("\n")


def test_without_a_bar_ending_the_report_writes_nothing():
    progress, out = report()
    with progress:
        pass
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


def test_at_100_percent_the_bar_shows_the_time_taken_and_the_rate_of_the_summary():
    progress, out = report(bar=True)
    run = finished_run(rows=0, seconds=2.0)
    with progress:
        progress.started(run, count_rows=lambda: 999)  # a row was added while it ran
        run.rows = 1000
        progress.finished(run)
    last = out.getvalue().rstrip().split("\r")[-1].rstrip()
    assert last == "[########################] 100% 1000/1000 users  500 rows/s  in 2.0 s"
    assert summary(run).endswith(" in 2.0 s (500 rows/s)")


def test_the_bar_counts_in_the_singular_too():
    progress, out = report(bar=True)
    run = finished_run(rows=1, seconds=1.0)
    with progress:
        progress.started(run, count_rows=lambda: 1)
    assert "1/1 user  1 rows/s" in out.getvalue()


class Terminal(io.StringIO):
    """What a terminal receives: the command's output and the log records, on one screen."""

    def isatty(self):
        return True


def screen(received):
    """The lines a terminal shows for what it received: a carriage return moves back to the
    start of the line, and what follows overwrites what was there (colours left out)."""
    received = re.sub(r"\x1b\[[0-9;]*m", "", received)
    lines, line, column = [], [], 0
    for char in received:
        if char == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif char == "\r":
            column = 0
        else:
            line[column : column + 1] = [char]
            column += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


@pytest.fixture
def terminal_handler():
    """A log handler writing to the terminal, as a site's LOGGING console handler does."""
    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    export_logger = logging.getLogger("cdp_bridge.export")
    export_logger.addHandler(handler)
    yield terminal, handler
    export_logger.removeHandler(handler)


def test_a_log_record_during_the_bar_gets_a_line_of_its_own_and_the_bar_is_redrawn(
    terminal_handler,
):
    terminal, handler = terminal_handler
    progress, _ = report(terminal, bar=True)
    run = finished_run(rows=0)
    with progress:
        progress.started(run, count_rows=lambda: 4)
        # The batches are sent from a thread of their own, which logs the retries.
        sender = threading.Thread(
            target=logging.getLogger("cdp_bridge.export").warning,
            args=("POST /stream/123456: HTTP 503; retrying batch 1 in 0.5 s",),
        )
        sender.start()
        sender.join()
        run.rows = 4
        progress.batch_sent(run, Batch(1, b"[]", 4, 4), 0.01)
    assert handler.stream is terminal  # given back after the run
    assert screen(terminal.getvalue()) == [
        "WARNING POST /stream/123456: HTTP 503; retrying batch 1 in 0.5 s",
        "[########################] 100% 4/4 users  2 rows/s  in 2.0 s",
    ]


def test_records_written_after_the_bar_are_left_alone(terminal_handler):
    terminal, _ = terminal_handler
    progress, _ = report(terminal, bar=True)
    with progress:
        progress.started(finished_run(rows=0), count_rows=lambda: 4)
    logging.getLogger("cdp_bridge.export").warning("after the run")
    assert terminal.getvalue().endswith("ETA -\nWARNING after the run\n")


def test_without_logging_configured_the_last_resort_writes_around_the_bar(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    last_resort = logging.lastResort
    progress, _ = report(terminal, bar=True)
    with progress:
        progress.started(finished_run(rows=0), count_rows=lambda: 4)
        record = logging.makeLogRecord({"msg": "retrying batch 1", "levelno": logging.WARNING})
        logging.lastResort.handle(record)
    assert logging.lastResort is last_resort
    assert screen(terminal.getvalue()) == [
        "retrying batch 1",
        "[........................]   0% 0/4 users  0 rows/s  ETA -",
    ]


def run_in_a_terminal(command, site, timeout=120):
    """Run ``command`` with a pseudo-terminal as its standard output and error, as a person
    at a terminal does; its exit status and all it wrote there."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=site.environment,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    received = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 0.5)[0]:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: the process closed the terminal, it is done
                    break
                if not chunk:
                    break
                received.append(chunk)
        else:
            pytest.fail(f"still running after {timeout} s: {b''.join(received)!r}")
        return process.wait(timeout=30), b"".join(received).decode()
    finally:
        process.kill()
        os.close(controller)


def test_on_a_real_terminal_a_retry_warning_does_not_land_in_the_bar(streaming_site, receiver):
    """``stream_user_data`` in a pseudo-terminal, its first request answered 503: the retry
    warning (Python's last resort writes it to standard error) gets a line of its own."""
    receiver.outcomes = [503]
    status, received = run_in_a_terminal(
        [sys.executable, "-m", "django", "stream_user_data", "--no-draft", "--batch-size", "2"],
        streaming_site,
    )
    lines = screen(received)
    assert status == 0, lines
    (warning,) = [line for line in lines if "retrying batch 1" in line]
    assert warning.startswith("POST http://"), lines  # nothing of the bar before it
    assert "rows/s" not in warning, lines
    *_, bar, summary_line = lines
    drawn = re.fullmatch(r"\[#{24}\] 100% 5/5 users  (\d+) rows/s  in (\d+\.\d) s", bar)
    assert drawn, lines
    summed = re.fullmatch(
        r"Streamed 5 users in 3 batches to stream 0a1b…4c5d \(full\) in (\d+\.\d) s "
        r"\((\d+) rows/s\)",
        summary_line,
    )
    assert summed, lines
    assert (drawn[1], drawn[2]) == (summed[2], summed[1])  # the same rate, the same time
    assert "ETA -" not in bar
    assert lines.index(warning) < lines.index(bar)
