"""Each test sends server-side events through a sender of its own, so that a pause after a
failure, or events still queued, never reach the next test."""

import pytest

from cdp_bridge.tracking import server_side
from cdp_bridge.tracking.event_sender import EventSender


@pytest.fixture(autouse=True)
def fresh_event_sender(monkeypatch):
    sender = EventSender()
    monkeypatch.setattr(server_side, "sender", sender)
    yield sender
    sender.flush(timeout=10)
