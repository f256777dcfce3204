"""BackgroundSender: batches sent in order from one thread, while the caller reads the next."""

import threading

import pytest

from cdp_bridge.exceptions import CdpUnavailable
from cdp_bridge.export.batches import Batch
from cdp_bridge.export.sender import BackgroundSender


class RecordingTransport:
    """A destination that keeps what it is sent, from which thread; it can hold or fail."""

    destination = "a list"

    def __init__(self, *, fail_on=None):
        self.sent = []
        self.threads = set()
        self.fail_on = fail_on
        self.held = threading.Event()
        self.held.set()
        self.sending = threading.Event()

    def send(self, batch):
        self.sending.set()
        self.held.wait(timeout=30)
        if batch.number == self.fail_on:
            raise CdpUnavailable(f"batch {batch.number} refused")
        self.threads.add(threading.current_thread().name)
        self.sent.append(batch.number)

    def close(self):
        pass


def batch(number):
    return Batch(number, b"[]", 1, number)


def test_batches_are_sent_in_order_from_a_thread_of_their_own():
    transport = RecordingTransport()
    sender = BackgroundSender(transport)
    collected = []
    for number in range(1, 6):
        collected += sender.submit(batch(number))
    collected += sender.finish()
    assert transport.sent == [1, 2, 3, 4, 5]
    assert [sent.batch.number for sent in collected] == [1, 2, 3, 4, 5]
    assert transport.threads == {"cdp-bridge-export-sender"}
    assert all(sent.seconds >= 0 for sent in collected)


def test_submit_waits_while_depth_batches_are_queued():
    transport = RecordingTransport()
    transport.held.clear()  # the CDP is slow to answer batch 1
    sender = BackgroundSender(transport, depth=2)
    sender.submit(batch(1))
    transport.sending.wait(timeout=30)
    sender.submit(batch(2))
    sender.submit(batch(3))
    fourth = threading.Thread(target=sender.submit, args=(batch(4),))
    fourth.start()
    fourth.join(timeout=0.2)
    assert fourth.is_alive()  # memory stays bounded: the reader waits for the sender
    transport.held.set()
    fourth.join(timeout=30)
    sender.finish()
    assert transport.sent == [1, 2, 3, 4]


def test_a_failure_is_raised_after_the_batches_sent_before_it_are_collected():
    transport = RecordingTransport(fail_on=3)
    sender = BackgroundSender(transport)
    collected = []
    for number in range(1, 6):
        collected += sender.submit(batch(number))
    collected += sender.finish()
    assert [sent.batch.number for sent in collected] == [1, 2]
    with pytest.raises(CdpUnavailable, match="batch 3 refused"):
        sender.raise_if_failed()
    assert transport.sent == [1, 2]  # nothing after the failed batch


def test_stop_drops_the_queued_batches_without_waiting_for_them():
    transport = RecordingTransport()
    transport.held.clear()
    sender = BackgroundSender(transport, depth=2)
    sender.submit(batch(1))
    transport.sending.wait(timeout=30)
    sender.submit(batch(2))
    sender.submit(batch(3))
    assert sender.stop() == []  # returns at once, batch 1 still on its way
    transport.held.set()
    sender.thread.join(timeout=30)
    assert transport.sent == [1]
