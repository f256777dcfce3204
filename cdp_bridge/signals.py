"""The signals a site connects receivers to, to act on what the CDP bridge did.

Each is sent once the transaction that did it has committed, so a receiver never sees a state
that is rolled back afterwards, and each is sent robustly: a receiver that raises is logged at
ERROR, with its traceback, on the logger ``cdp_bridge.signals`` (it is the site's own bug), and
neither undoes what was done nor keeps the other receivers from being called.

``delivery_applied``
    A webhook delivery was applied (at once, from the queue, or re-applied from the admin).
    Sent by ``WebhookDelivery`` with ``delivery`` (the WebhookDelivery) and ``result`` (the
    ``SyncResult``: what became of each audience).
``delivery_failed``
    A webhook delivery could not be applied and is kept as failed, to be re-applied. Sent by
    ``WebhookDelivery`` with ``delivery`` and ``error`` (the exception).
``export_finished``
    An export run ended, whatever its ending: ``succeeded``, ``failed`` or ``interrupted``.
    Sent by ``ExportRun`` with ``run`` (the ExportRun).
``segment_group_locked``
    An activation connected to a segment group for the first time: the group is the CDP's
    from now on. Sent by ``SegmentGroup`` with ``group``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import router, transaction
from django.dispatch import Signal

logger = logging.getLogger("cdp_bridge.signals")


class BridgeSignal(Signal):
    """A signal sent after commit, whose failing receivers are reported as cdp_bridge's."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def send_after_commit(self, sender: type, **named: Any) -> None:
        """Send once the transaction writing ``sender`` commits (at once outside one).

        Never raises: a receiver's error is logged. The database is the one the site's routers
        write ``sender`` to, so that a site keeping cdp_bridge's tables apart hears of the
        transaction that matters.
        """
        transaction.on_commit(
            partial(self.send_robust, sender, **named), using=router.db_for_write(sender)
        )

    def _log_robust_failure(self, receiver: Any, err: Exception) -> None:
        # Django's send_robust() calls this for each receiver that raised (and would log on
        # django.dispatch): logged here instead, once, where the site looks for cdp_bridge.
        logger.error(
            "A receiver of cdp_bridge.signals.%s, %s, raised %s: %s. What was done stands; "
            "fix the receiver.",
            self.name,
            getattr(receiver, "__qualname__", repr(receiver)),
            type(err).__name__,
            err,
            exc_info=err,
        )


delivery_applied = BridgeSignal("delivery_applied")
delivery_failed = BridgeSignal("delivery_failed")
export_finished = BridgeSignal("export_finished")
segment_group_locked = BridgeSignal("segment_group_locked")
