"""Receiving a delivery: made idempotent, then applied at once or handed to the queue.

A delivery is identified by its ``X-CDP-Delivery-Id``, or without one by the hash of its body
(``WebhookDelivery.own_idempotency_key()``); the key is claimed by a unique constraint inside
the transaction that applies (or queues) the delivery, so a resend - even one arriving at the
same moment - waits for the first and is a duplicate. If applying fails, everything rolls
back, including the claim, and the delivery is recorded as failed so that the CDP's retry, or
the admin's "re-apply", can apply it.

This is the core behind the view: it returns what became of a delivery and raises domain
errors; the view alone turns them into HTTP answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from django.db import IntegrityError, transaction

from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import WebhookDelivery
from cdp_bridge.segmentation import lock_segment_group
from cdp_bridge.webhook import history, queue
from cdp_bridge.webhook.clients import ActivationClient
from cdp_bridge.webhook.payload import Delivery
from cdp_bridge.webhook.sync import SyncResult, apply_delivery

logger = logging.getLogger("cdp_bridge.webhook")


@dataclass(frozen=True)
class Received:
    """What became of a delivery.

    ``applied`` (with the ``result``), ``accepted`` for the queue, or a ``duplicate`` of the
    delivery ``record.duplicate_of``, which changed nothing.
    """

    outcome: Literal["applied", "accepted", "duplicate"]
    record: WebhookDelivery
    result: SyncResult | None = None


def receive(client: ActivationClient, delivery: Delivery, body: str, delivery_id: str) -> Received:
    """Apply a validated delivery now, or store it for the queue when it is large.

    Raises SegmentGroupMismatch, SegmentGroupNotFound, InvalidPayload (snapshot parts that
    disagree), database errors, or whatever a bug raises; in every case nothing of the delivery
    is written but its record as rejected or failed.
    """
    record = WebhookDelivery(
        client_id=client.client_id,
        scope=client.scope.name,
        segment_group_identifier=delivery.segment_group_identifier,
        delivery_id=delivery_id,
        body_hash=hashlib.sha256(body.encode()).hexdigest(),
        status=WebhookDelivery.Status.QUEUED,
        member_count=delivery.member_count,
        body=body,
    )
    record.idempotency_key = record.own_idempotency_key()
    queued = queue.is_queued(delivery.member_count)
    try:
        group = client.segment_group(delivery.segment_group_identifier)
        with claiming(record):
            # The activation has connected: from now on the group is the CDP's.
            lock_segment_group(group)
            if queued:
                queue.dispatch(record)
                return Received("accepted", record)
            result = apply_delivery(delivery, group, PersonIdentifier.for_scope(client.scope))
            history.mark_applied(record, result)
    except KeyHeld as held:
        return Received("duplicate", history.mark_duplicate(record, held.holder))
    except Exception as error:
        history.record_failure(record, error)
        raise
    logger.info("Applied webhook delivery %s: %s", record.reference, history.summary(result))
    return Received("applied", record, result)


class KeyHeld(Exception):
    """Another delivery holds the idempotency key: this one is its duplicate."""

    def __init__(self, holder: WebhookDelivery) -> None:
        super().__init__(holder.idempotency_key)
        self.holder = holder


@contextmanager
def claiming(record: WebhookDelivery) -> Iterator[None]:
    """A transaction whose first statement saves ``record`` holding its idempotency key.

    If another delivery holds the key, the transaction is rolled back and KeyHeld names it. A
    concurrent resend waits on the unique constraint until the first one commits (then it is a
    duplicate) or rolls back (then it claims the key itself).
    """
    claimed = False
    try:
        with transaction.atomic():
            record.save()
            claimed = True
            yield
    except IntegrityError:
        if claimed:
            raise  # not the key: something the delivery did
        # Looked up after the rollback: an aborted transaction runs no more queries.
        holder = WebhookDelivery.objects.filter(
            client_id=record.client_id, idempotency_key=record.idempotency_key
        ).first()
        if holder is None:  # the holder failed and let go of the key meanwhile
            raise
        raise KeyHeld(holder) from None
