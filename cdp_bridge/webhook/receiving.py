"""Receiving a delivery: made idempotent, then applied at once or handed to the queue.

A delivery is identified by its ``X-CDP-Delivery-Id``, or without one by the hash of its body
(``WebhookDelivery.own_idempotency_key()``); the key is claimed by a unique constraint inside
the transaction that applies (or queues) the delivery, so a resend - even one arriving at the
same moment - waits for the first and is a duplicate. A signed delivery claims its signature
the same way (``WebhookSignature``): the delivery id is not signed, so a replay of the signed
body under another delivery id, or none, is a duplicate too. If applying fails, everything
rolls back, including the claims, and the delivery is recorded as failed so that the CDP's
retry, or the admin's "re-apply", can apply it.

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
from django.utils import timezone

from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import WebhookDelivery, WebhookSignature
from cdp_bridge.segmentation import lock_segment_group
from cdp_bridge.webhook import history, queue
from cdp_bridge.webhook.clients import ActivationClient
from cdp_bridge.webhook.payload import Delivery
from cdp_bridge.webhook.signatures import Signed
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


def receive(
    client: ActivationClient,
    delivery: Delivery,
    body: str,
    delivery_id: str,
    signed: Signed | None = None,
) -> Received:
    """Apply a validated delivery now, or store it for the queue when it is large.

    ``signed``: the verified signature it came with, if any.

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
    if signed is not None:
        forget_expired_signatures(client.client_id)
    try:
        group = client.segment_group(delivery.segment_group_identifier)
        with claiming(record, signed):
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
def claiming(record: WebhookDelivery, signed: Signed | None = None) -> Iterator[None]:
    """A transaction whose first statements save ``record`` holding its idempotency key, and
    the signature ``signed`` it came with.

    If another delivery holds the key or the signature, the transaction is rolled back and
    KeyHeld names it. A concurrent resend waits on the unique constraint until the first one
    commits (then it is a duplicate) or rolls back (then it claims the key itself).
    """
    claimed = False
    try:
        with transaction.atomic():
            record.save()
            if signed is not None:
                WebhookSignature.objects.create(
                    client_id=record.client_id,
                    digest=signed.digest,
                    replayable_until=signed.replayable_until,
                    delivery=record,
                )
            claimed = True
            yield
    except IntegrityError:
        if claimed:
            raise  # not a claim: something the delivery did
        # Looked up after the rollback: an aborted transaction runs no more queries.
        holder = WebhookDelivery.objects.filter(
            client_id=record.client_id, idempotency_key=record.idempotency_key
        ).first()
        if holder is None and signed is not None:
            holder = WebhookDelivery.objects.filter(
                pk__in=WebhookSignature.objects.filter(
                    client_id=record.client_id, digest=signed.digest
                ).values("delivery_id")
            ).first()
        if holder is None:  # the holder failed and let go of the key meanwhile
            raise
        raise KeyHeld(holder) from None


def forget_expired_signatures(client_id: str) -> None:
    """Drop the client's signatures that can no longer be replayed (their timestamp is refused).

    One statement of its own, before the delivery's transaction: within it, two deliveries
    deleting the same rows would wait for each other while holding their segments.
    """
    WebhookSignature.objects.filter(
        client_id=client_id, replayable_until__lt=timezone.now()
    ).delete()
