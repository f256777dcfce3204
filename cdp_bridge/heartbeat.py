"""A thread that repeats one small database update while long work runs.

The export's heartbeat and the schedule's lease are both signs of life: a process that dies
stops renewing them, and the others can tell. A passing database outage only skips a beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, connection

logger = logging.getLogger("cdp_bridge")


@contextmanager
def repeated(update: Callable[[], object], every: timedelta, name: str) -> Iterator[None]:
    """Run ``update()`` every ``every`` from a thread of its own while the block runs."""
    stop = threading.Event()

    def repeat() -> None:
        try:
            while not stop.wait(every.total_seconds()):
                try:
                    update()
                except DatabaseError:  # the next beat tries again
                    logger.warning("%s: the database refused the update", name, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=repeat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
