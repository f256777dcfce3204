"""A CDP on loopback (pytest-httpserver) that records what it receives and fails on request."""

import json
import socket
import struct
from dataclasses import dataclass

import pytest
from werkzeug import Request, Response

from cdp_bridge.conf.document import deep_merge
from cdp_bridge.export import processors, transports
from cdp_bridge.models import ExportRun

from ..conftest import STREAM_ID

ACCOUNT = 123456
STREAM_PATH = f"/stream/{ACCOUNT}"
SOURCES = {
    "user": {"user": {"model": "auth.User"}},
    "content": {
        "article": {
            "model": "testapp.Article",
            "name_field": "title",
            "modified_field": "updated_at",
        }
    },
    "product": {"product": {"model": "testapp.Product", "code_field": "sku", "name_field": "name"}},
}


@dataclass
class Received:
    headers: dict
    rows: list


class Receiver:
    """The Streaming API: records each accepted batch; ``outcomes`` script the first answers.

    An outcome is ``200`` (accept), a status (``503``), a status with a Retry-After
    (``(429, "1")``), or ``"reset"`` to drop the connection. Once the script runs out, every
    batch is accepted, unless ``down_after`` batches were accepted: then every request gets
    a 503 (the CDP is down) until ``down_after`` is set back to None.
    """

    def __init__(self, httpserver):
        self.batches: list[Received] = []
        self.attempts = 0
        self.outcomes: list = []
        self.pattern = None
        self.down_after: int | None = None
        httpserver.expect_request(STREAM_PATH, method="POST").respond_with_handler(self.handle)

    def fail_every(self, every, outcomes):
        """Fail one request in ``every``, cycling through ``outcomes``."""
        self.pattern = (every, list(outcomes))

    def cycle(self, outcomes):
        """Answer request n with ``outcomes[n % len(outcomes)]``, forever."""
        self.pattern = (1, list(outcomes))

    def handle(self, request: Request) -> Response:
        self.attempts += 1
        outcome = self.next_outcome()
        if outcome == "reset":
            sock = request.environ["werkzeug.socket"]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return Response("", 500)
        if outcome not in (None, 200):
            status, retry_after = outcome if isinstance(outcome, tuple) else (outcome, None)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return Response('{"error": "try later"}', status, headers)
        self.batches.append(Received(dict(request.headers), json.loads(request.get_data())))
        return Response("{}", 200, content_type="application/json")

    def next_outcome(self):
        if self.outcomes:
            return self.outcomes.pop(0)
        if self.down_after is not None and len(self.batches) >= self.down_after:
            return 503
        if self.pattern:
            every, outcomes = self.pattern
            if self.attempts % every == 0:
                return outcomes[(self.attempts // every - 1) % len(outcomes)]
        return None

    @property
    def rows(self):
        return [row for batch in self.batches for row in batch.rows]


@pytest.fixture
def receiver(httpserver):
    return Receiver(httpserver)


@pytest.fixture
def export_config(cdp_config, httpserver):
    """Configure streaming to the receiver; extra keys are deep-merged into the dict."""

    def configure(extra=None, *, cdp=None):
        streams = {f"{kind}_data": {"stream_file": {"stream_id": STREAM_ID}} for kind in SOURCES}
        base = {
            "system": {
                "default": {
                    "cdp": deep_merge(
                        {
                            "account_number": ACCOUNT,
                            "stream_base_url": httpserver.url_for("/").rstrip("/"),
                            "data_export": streams,
                        },
                        cdp or {},
                    )
                }
            },
            "sources": SOURCES,
        }
        report = cdp_config(deep_merge(base, extra or {}))
        assert report.errors == (), report.errors
        return report

    return configure


class FakeClock:
    """Retry time that passes only when the transport waits, and at once: no test sleeps."""

    def __init__(self):
        self.time = 0.0
        self.waits: list[float] = []

    def now(self):
        return self.time

    def wait(self, seconds, stop):
        self.waits.append(seconds)
        self.time += seconds


@pytest.fixture
def retry_clock(monkeypatch):
    """The transports' retries count and wait on a fake clock."""
    clock = FakeClock()
    monkeypatch.setattr(transports, "retry_clock", clock)
    return clock


@pytest.fixture
def backoff(retry_clock):
    """Retries wait for nothing; returns the delays the transport asked for."""
    return retry_clock.waits


@pytest.fixture(autouse=True)
def isolated_processors(monkeypatch):
    """Processors registered by a test's decorators are forgotten after it."""
    monkeypatch.setattr(
        processors, "_registered", {kind: [] for kind in processors.PROCESSOR_KINDS}
    )


@pytest.fixture(autouse=True)
def empty_outbox():
    transports.outbox.clear()
    yield
    transports.outbox.clear()


def recorded_run(status="running", *, draft=False, **recorded):
    """A run of the user stream, as the runner records it; ``started_at`` and ``heartbeat_at``
    may be given too (the runner sets them itself)."""
    times = {key: recorded.pop(key) for key in ("started_at", "heartbeat_at") if key in recorded}
    run = ExportRun.objects.create(
        kind="user",
        scope="default",
        source="user",
        transport="stream_file",
        stream_id=STREAM_ID,
        draft=draft,
        status=status,
        **recorded,
    )
    ExportRun.objects.filter(pk=run.pk).update(**times)
    run.refresh_from_db()
    return run


@pytest.fixture
def streaming_site(tmp_path, httpserver):
    """A site in a database of its own (for real processes) with five users, streaming to the
    receiver on loopback."""
    from tests.standalone import standalone_site

    environment = {"CDP_STREAM_BASE_URL": httpserver.url_for("/"), "CDP_EXPORT_DIR": "unused"}
    for site in standalone_site(tmp_path, "tests.settings_stream_file", environment):
        seeded = site.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.bulk_create([User(username=f'u{i}') for i in range(5)])",
        )
        assert seeded.returncode == 0, seeded.stderr
        yield site
