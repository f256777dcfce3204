"""SIGTERM, handled like Ctrl-C while a command works, so that what it was doing is recorded.

Without a handler, SIGTERM (a deployment stopping, ``kill``) ends the process on the spot: an
export would stay ``running`` until its heartbeat lapses. With it, the export stops where it
is - even in the middle of waiting out a ``Retry-After`` - and is recorded as interrupted, so
``--resume`` continues it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from django.utils.translation import gettext as _


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: whatever handles Ctrl-C handles this too."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread, as Ctrl-C would."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals (a command called from a thread)
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated(_("Stopped by %(signal)s.") % {"signal": "SIGTERM"})

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
