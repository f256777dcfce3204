"""The transports: the Streaming API's request, its retries and refusals; files; the outbox."""

import json
import logging
import socket
import threading
import time

import pytest

from cdp_bridge import __version__
from cdp_bridge.exceptions import BatchRejected, CdpUnavailable
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


def stream_transport(httpserver, *, draft=False, read_timeout=30.0, url=None):
    return StreamFileTransport(
        base_url=url or httpserver.url_for("/"),
        account_number=ACCOUNT,
        stream_id=STREAM_ID,
        draft=draft,
        connect_timeout=5.0,
        read_timeout=read_timeout,
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


def test_after_six_failed_attempts_the_cdp_is_unavailable(httpserver, receiver, backoff):
    receiver.outcomes = [503] * 6
    with pytest.raises(CdpUnavailable) as error:
        stream_transport(httpserver).send(BATCH)
    assert receiver.attempts == 6
    assert "after 6 attempts (last: HTTP 503)" in str(error.value)
    assert "--resume" in str(error.value)


def test_a_closed_transport_stops_retrying(httpserver, receiver, monkeypatch):
    transport = stream_transport(httpserver)
    receiver.outcomes = [503] * 6
    # The run failed elsewhere and closed the transport while this send was waiting.
    monkeypatch.setattr("cdp_bridge.export.transports.sleep", lambda delay: transport.close())
    with pytest.raises(CdpUnavailable):
        transport.send(BATCH)
    assert receiver.attempts == 2


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
    assert len(backoff) == 5


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
