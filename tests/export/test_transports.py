"""The transports: the Streaming API's request, its retries and refusals; files; the outbox."""

import json
import logging
import socket
import threading
import time

import pytest

from cdp_bridge import __version__
from cdp_bridge.exceptions import BatchRejected, CdpUnavailable, ExportError
from cdp_bridge.export.batches import Batch
from cdp_bridge.export.transports import (
    FileTransport,
    MemoryTransport,
    RetryPolicy,
    StreamFileTransport,
    outbox,
)

from ..conftest import STREAM_ID
from .conftest import ACCOUNT, STREAM_PATH

MASKED = "0a1b…4c5d"
BATCH = Batch(number=1, body=b'[{"id":1},{"id":2}]', rows=2, last_key=2)


DEFAULT_RETRY = RetryPolicy()


def stream_transport(httpserver, *, draft=False, read_timeout=30.0, retry=DEFAULT_RETRY):
    return StreamFileTransport(
        base_url=httpserver.url_for("/"),
        account_number=ACCOUNT,
        stream_id=STREAM_ID,
        draft=draft,
        connect_timeout=5.0,
        read_timeout=read_timeout,
        retry=retry,
    )


def test_a_batch_is_posted_to_the_account_with_the_stream_id_header(httpserver, receiver):
    stream_transport(httpserver).send(BATCH)
    [batch] = receiver.batches
    assert batch.rows == [{"id": 1}, {"id": 2}]
    assert batch.headers["X-Streamid"] == STREAM_ID
    assert batch.headers["Content-Type"] == "application/json"
    assert batch.headers["User-Agent"] == f"cdp-bridge/{__version__}"
    assert "X-Isdraft" not in batch.headers
    request, _ = httpserver.log[0]
    assert (request.method, request.path) == ("POST", STREAM_PATH)


def test_a_draft_batch_says_so_in_a_header(httpserver, receiver):
    stream_transport(httpserver, draft=True).send(BATCH)
    assert receiver.batches[0].headers["X-Isdraft"] == "true"


@pytest.mark.parametrize("failure", [500, 502, 503, 504, 408, 429, "reset"])
def test_a_transient_failure_is_retried_until_the_batch_is_accepted(
    httpserver, receiver, backoff, failure
):
    receiver.outcomes = [failure, failure]
    stream_transport(httpserver).send(BATCH)
    assert receiver.attempts == 3
    assert [batch.rows for batch in receiver.batches] == [[{"id": 1}, {"id": 2}]]
    assert len(backoff) == 2


def test_a_read_timeout_is_retried(httpserver, receiver, backoff):
    calls = []

    def slow_then_fine(request):
        calls.append(request)
        if len(calls) == 1:
            time.sleep(0.5)  # the client gives up after 0.1 s
        return receiver.handle(request)

    httpserver.clear_all_handlers()
    httpserver.expect_request(STREAM_PATH, method="POST").respond_with_handler(slow_then_fine)
    stream_transport(httpserver, read_timeout=0.1).send(BATCH)
    assert backoff  # retried
    # The CDP may get a batch more than once when an answer is lost: it upserts, no harm.
    assert {json.dumps(batch.rows) for batch in receiver.batches} == {'[{"id": 1}, {"id": 2}]'}


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap():
    policy = RetryPolicy()
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 30.0), (12, 30.0)]:
        delay = policy.delay(retry, None)
        assert ceiling / 2 <= delay <= ceiling


def test_retry_after_is_honoured(httpserver, receiver, backoff):
    receiver.outcomes = [(429, "7"), (503, "2")]
    stream_transport(httpserver).send(BATCH)
    assert backoff == [7.0, 2.0]


def test_a_retry_after_of_zero_or_nonsense_backs_off_as_usual(httpserver, receiver, backoff):
    """``Retry-After: 0`` (or a date already past) would retry at once, again and again: a hot
    loop hammering a CDP that is down, for the whole retry budget. It backs off instead."""
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    past_in_utc = "Wed, 21 Oct 2015 07:28:00 -0000"  # a date without a zone of its own
    receiver.outcomes = [(503, "0"), (429, "0"), (503, "-5"), (503, "soon"), (503, past)]
    receiver.outcomes.append((503, past_in_utc))
    stream_transport(httpserver).send(BATCH)
    assert receiver.attempts == 7
    ceilings = [0.5, 1, 2, 4, 8, 16]
    for retry, (delay, ceiling) in enumerate(zip(backoff, ceilings, strict=True), 1):
        assert ceiling / 2 <= delay <= ceiling, (retry, backoff)


def test_a_long_retry_after_is_cut_to_max_retry_after_and_the_log_says_so(
    httpserver, receiver, backoff, caplog
):
    receiver.outcomes = [(503, "86400"), (429, "86400")]
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.export"):
        stream_transport(httpserver, retry=RetryPolicy(max_retry_after=90)).send(BATCH)
    assert backoff == [90.0, 90.0]
    assert len(receiver.batches) == 1
    assert (
        "The CDP asked to wait 86400 s before batch 1 is sent again (Retry-After); waiting "
        "90 s, the most stream_file.max_retry_after allows"
    ) in caplog.messages


def test_a_batch_that_keeps_failing_gives_up_once_its_retry_budget_is_spent(
    httpserver, receiver, backoff
):
    receiver.down_after = 0
    with pytest.raises(CdpUnavailable) as error:
        stream_transport(httpserver, retry=RetryPolicy(budget=60)).send(BATCH)
    message = str(error.value)
    assert message.startswith(
        f"The CDP at {httpserver.url_for(STREAM_PATH)} did not accept batch 1 within the retry "
        f"budget of 60 s ({receiver.attempts} attempts in "
    )
    assert "last: HTTP 503)" in message
    assert "--resume continues after them" in message
    assert receiver.attempts == len(backoff) + 1 > 6  # more than the six attempts of old
    assert 30 < sum(backoff) <= 60  # the next wait would have ended past the budget


def test_a_retry_after_longer_than_the_budget_left_gives_up_at_once(httpserver, receiver, backoff):
    receiver.outcomes = [(429, "3600")]
    retry = RetryPolicy(budget=300, max_retry_after=3600)
    with pytest.raises(CdpUnavailable, match=r"last: HTTP 429 \(Retry-After: 3600 s\)"):
        stream_transport(httpserver, retry=retry).send(BATCH)
    assert (receiver.attempts, backoff) == (1, [])


def test_a_closed_transport_stops_retrying(httpserver, receiver, retry_clock, monkeypatch):
    transport = stream_transport(httpserver)
    receiver.down_after = 0
    # The run stopped elsewhere and closed the transport while this send was waiting.
    monkeypatch.setattr(retry_clock, "wait", lambda seconds, stop: transport.close())
    with pytest.raises(CdpUnavailable, match="the run stopped"):
        transport.send(BATCH)
    assert receiver.attempts == 1


def test_closing_the_transport_ends_a_wait_at_once(httpserver, receiver):
    """Real time: a Retry-After of an hour, ended by close() (what a stopped run does)."""
    receiver.down_after = 0
    receiver.outcomes = [(503, "3600")]
    transport = stream_transport(httpserver, retry=RetryPolicy(budget=7200, max_retry_after=3600))
    failures = []
    sending = threading.Thread(target=lambda: _send_catching(transport, failures))
    sending.start()
    while receiver.attempts == 0:
        time.sleep(0.01)
    transport.close()
    sending.join(timeout=30)
    assert not sending.is_alive(), "the send still waits for the hour the CDP asked for"
    assert [type(failure) for failure in failures] == [CdpUnavailable]
    assert receiver.attempts == 1


def _send_catching(transport, failures):
    try:
        transport.send(BATCH)
    except Exception as failure:
        failures.append(failure)


def test_an_unreachable_cdp_is_retried_then_reported(backoff):
    transport = StreamFileTransport(
        base_url="http://127.0.0.1:9",  # discard: nothing listens
        account_number=ACCOUNT,
        stream_id=STREAM_ID,
        draft=False,
        connect_timeout=1.0,
        read_timeout=1.0,
    )
    with pytest.raises(CdpUnavailable) as error:
        transport.send(BATCH)
    assert "Connection refused" in str(error.value)
    assert "within the retry budget of 600 s" in str(error.value)
    assert 570 < sum(backoff) <= 600


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (400, "schema"),
        (401, "account_number and the stream id"),
        (403, "account_number and the stream id"),
        (404, "stream_base_url"),
    ],
)
def test_a_refusal_stops_at_once_naming_the_status_and_the_body(httpserver, backoff, status, hint):
    body = f"unknown stream {STREAM_ID}"  # an answer that repeats the secret
    httpserver.expect_request(STREAM_PATH).respond_with_data(body, status=status)
    with pytest.raises(BatchRejected) as error:
        stream_transport(httpserver).send(BATCH)
    message = str(error.value)
    assert f"HTTP {status}" in message
    assert f"unknown stream {MASKED}" in message
    assert STREAM_ID not in message
    assert hint in message
    assert len(httpserver.log) == 1
    assert backoff == []


def test_an_html_error_page_is_shown_as_one_line_of_its_text(httpserver, backoff):
    page = (
        "<!DOCTYPE html>\n<html>\n<head>\n  <title>403 Forbidden</title>\n"
        "  <style>body { font-family: sans-serif; }</style>\n</head>\n<body>\n"
        "  <h1>403 Forbidden</h1>\n  <p>Request for stream\n"
        f"     {STREAM_ID} blocked by the proxy &amp; logged.</p>\n"
        "  <script>track();</script>\n</body>\n</html>\n" + "<p>padding</p>\n" * 100
    )
    httpserver.expect_request(STREAM_PATH).respond_with_data(
        page, status=403, content_type="text/html"
    )
    with pytest.raises(BatchRejected) as error:
        stream_transport(httpserver).send(BATCH)
    message = str(error.value)
    assert message.startswith(
        "The CDP rejected batch 1 with HTTP 403 FORBIDDEN: 403 Forbidden Request for stream "
        f"{MASKED} blocked by the proxy & logged. padding padding"
    )
    assert "\n" not in message and "<" not in message and "track()" not in message
    assert STREAM_ID not in message
    assert len(message) < 200 + 150  # the excerpt is cut, the hint follows
    assert "… Check the account_number" in message


def test_a_redirect_is_refused_rather_than_followed(httpserver, backoff):
    httpserver.expect_request(STREAM_PATH).respond_with_data(
        "", status=301, headers={"Location": "http://elsewhere.example/"}
    )
    with pytest.raises(BatchRejected, match="HTTP 301"):
        stream_transport(httpserver).send(BATCH)


def test_each_request_is_logged_at_debug_with_the_stream_id_masked(
    httpserver, receiver, backoff, caplog
):
    receiver.outcomes = [503]
    with caplog.at_level(logging.DEBUG, logger="cdp_bridge.export"):
        stream_transport(httpserver).send(BATCH)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 2
    assert f"POST {httpserver.url_for(STREAM_PATH)} stream={MASKED}" in debug[1]
    assert "-> 200 rows=2 bytes=19 in" in debug[1]
    assert "-> 503" in debug[0]
    assert any(
        r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in caplog.records
    )
    assert STREAM_ID not in caplog.text


def test_the_file_transport_writes_each_batch_as_a_json_file(tmp_path):
    transport = FileTransport(tmp_path / "run-000001-full")
    transport.send(BATCH)
    transport.send(Batch(2, b"[]", 0, None))
    written = sorted(path.name for path in (tmp_path / "run-000001-full").iterdir())
    assert written == ["batch-000001.json", "batch-000002.json"]
    assert json.loads((tmp_path / "run-000001-full" / "batch-000001.json").read_bytes()) == [
        {"id": 1},
        {"id": 2},
    ]
    assert transport.destination == str(tmp_path / "run-000001-full")


def test_the_file_transport_refuses_a_directory_that_exists_rather_than_overwrite_it(tmp_path):
    earlier = tmp_path / "run-000001-full"
    earlier.mkdir()
    (earlier / "batch-000001.json").write_bytes(b"[]")
    with pytest.raises(ExportError, match="already exists: another export wrote there"):
        FileTransport(earlier)
    assert (earlier / "batch-000001.json").read_bytes() == b"[]"


def test_the_memory_transport_keeps_batches_in_the_outbox():
    transport = MemoryTransport(
        kind="user", scope="default", source="user", stream_id=STREAM_ID, draft=True
    )
    transport.send(BATCH)
    [sent] = outbox
    assert sent.rows == [{"id": 1}, {"id": 2}]
    assert (sent.kind, sent.scope, sent.source, sent.draft) == ("user", "default", "user", True)


def test_an_answer_cut_off_mid_way_is_retried(backoff):
    """A connection that drops inside the response (ChunkedEncodingError) is transient."""
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ]
    received = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def serve():
            for answer in answers:
                connection, _ = server.accept()
                with connection:
                    request = b""
                    while b"\r\n\r\n" not in request or not request.endswith(BATCH.body):
                        request += connection.recv(65536)
                    received.append(request)
                    connection.sendall(answer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        port = server.getsockname()[1]
        transport = StreamFileTransport(
            base_url=f"http://127.0.0.1:{port}/",
            account_number=ACCOUNT,
            stream_id=STREAM_ID,
            draft=False,
            connect_timeout=5.0,
            read_timeout=5.0,
        )
        transport.send(BATCH)
        thread.join(timeout=10)
    assert len(received) == 2
    assert len(backoff) == 1
