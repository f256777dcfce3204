"""Sending batches from a thread of their own, in order, while the next ones are read.

Waiting for the CDP's answer to one batch is time the database and the encoder can use for the
next: the export overlaps the two. At most ``depth`` batches wait to be sent, so memory stays
bounded. The thread only sends; everything that touches the database (the run's progress)
stays on the caller's thread, which collects what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from queue import Empty, Queue
from threading import Event, Thread
from time import monotonic

from cdp_bridge.export.batches import Batch
from cdp_bridge.export.transports import Transport


@dataclass(frozen=True)
class Sent:
    """A batch the destination accepted, and how long that took."""

    batch: Batch
    seconds: float


class BackgroundSender:
    """Sends the batches given to ``submit()`` one after another, from one thread."""

    def __init__(self, transport: Transport, depth: int = 2) -> None:
        self.transport = transport
        self.waiting: Queue[Batch | None] = Queue(maxsize=depth)
        self.results: Queue[Sent | BaseException] = Queue()
        self.error: BaseException | None = None
        self.stopping = Event()
        self.thread = Thread(target=self._send_all, name="cdp-bridge-export-sender", daemon=True)
        self.thread.start()

    def submit(self, batch: Batch) -> list[Sent]:
        """Queue a batch (waiting while ``depth`` are queued); returns the batches sent since."""
        self.waiting.put(batch)
        return self._collect()

    def finish(self) -> list[Sent]:
        """Wait until every queued batch is sent; returns those not collected yet."""
        self.waiting.put(None)
        self.thread.join()
        return self._collect()

    def raise_if_failed(self) -> None:
        """Raise what stopped the sending (after the batches sent before it were collected)."""
        if self.error is not None:
            raise self.error

    def stop(self) -> list[Sent]:
        """Give up: batches still queued are dropped (the run failed, --resume sends them).

        Returns the batches sent and not collected yet; one being sent may still arrive.
        """
        self.stopping.set()
        while True:
            try:
                self.waiting.get_nowait()
            except Empty:
                break
        self.waiting.put(None)
        return self._collect()

    def _collect(self) -> list[Sent]:
        sent: list[Sent] = []
        while self.error is None:
            try:
                result = self.results.get_nowait()
            except Empty:
                break
            if isinstance(result, BaseException):
                self.error = result
            else:
                sent.append(result)
        return sent

    def _send_all(self) -> None:
        failed = False
        while (batch := self.waiting.get()) is not None:
            if failed or self.stopping.is_set():
                continue  # keep taking batches, so that submit() never waits for a dead sender
            started = monotonic()
            try:
                self.transport.send(batch)
            except BaseException as error:
                failed = True
                self.results.put(error)
                continue
            self.results.put(Sent(batch, monotonic() - started))
