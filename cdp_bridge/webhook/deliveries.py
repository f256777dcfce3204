"""Deliveries: stored, made idempotent, applied now or queued, and processed from the queue.

Every authenticated POST is kept as a WebhookDelivery (SPEC §3.4). A delivery is
identified by its ``X-CDP-Delivery-Id``, or without one by the hash of its body; the key is
claimed by a unique constraint inside the transaction that applies (or queues) the delivery,
so a resend - even one arriving at the same moment - waits for the first and is answered as
a duplicate. If applying fails, everything rolls back, including the claim, and the delivery
is recorded as failed so that the CDP's retry, or the admin's "re-apply", can apply it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from cdp_bridge import conf
from cdp_bridge.exceptions import CdpBridgeError, ConfigurationError, WebhookRejected
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import SegmentGroup, WebhookDelivery
from cdp_bridge.segmentation import lock_segment_group
from cdp_bridge.webhook.authentication import ActivationClient
from cdp_bridge.webhook.body import parse_json
from cdp_bridge.webhook.payload import Delivery
from cdp_bridge.webhook.serializers import validate_delivery
from cdp_bridge.webhook.snapshots import drop_expired_parts
from cdp_bridge.webhook.sync import SyncResult, apply_delivery

logger = logging.getLogger("cdp_bridge.webhook")

Status = WebhookDelivery.Status
# Errors that mean "the database cannot be reached": the work is left as it was, to be retried.
UNAVAILABLE = (OperationalError, InterfaceError)
REJECTED_BODY_KEPT = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """The HTTP status and JSON body that answer a delivery."""

    status: int
    body: dict[str, Any]


def idempotency_key(delivery_id: str, body_hash: str) -> str:
    """What makes two deliveries "the same": the sender's delivery id, or the body's hash."""
    return delivery_id or f"sha256:{body_hash}"


def is_queued(member_count: int) -> bool:
    """Whether a delivery is queued (202) rather than applied at once: ``bulk_async_threshold``."""
    return member_count >= conf.cdp_settings().bulk_async_threshold


def receive(client: ActivationClient, delivery: Delivery, body: str, delivery_id: str) -> Answer:
    """Apply a validated delivery now, or store it for the queue when it is large (SPEC §3.3).

    Raises WebhookRejected (403, 409, or 400 for snapshot parts that disagree) and database
    errors; either way nothing of the delivery is written but its record as rejected or failed.
    """
    body_hash = hashlib.sha256(body.encode()).hexdigest()
    record = WebhookDelivery(
        client_id=client.client_id,
        scope=client.scope.name,
        segment_group_identifier=delivery.segment_group_identifier,
        delivery_id=delivery_id,
        body_hash=body_hash,
        idempotency_key=idempotency_key(delivery_id, body_hash),
        status=Status.QUEUED,
        member_count=delivery.member_count,
        body=body,
    )
    queued = is_queued(delivery.member_count)
    try:
        group = segment_group_for(client, delivery)
        with _claiming(record):
            # The activation has connected: from now on the group is the CDP's.
            lock_segment_group(group)
            if queued:
                dispatch(record)
                return Answer(202, {"status": "accepted", "delivery_id": record.idempotency_key})
            result = apply_delivery(delivery, group, PersonIdentifier.for_scope(client.scope))
            _mark_applied(record, result)
    except KeyHeld as held:
        return _duplicate_answer(_save_duplicate(record, held.holder))
    except Exception as error:
        _record_failure(record, error)
        raise
    logger.info("Applied webhook delivery %s: %s", record.idempotency_key, _summary(result))
    return Answer(
        200, {"status": "applied", "delivery_id": record.idempotency_key, **result.as_json()}
    )


def segment_group_for(client: ActivationClient, delivery: Delivery) -> SegmentGroup:
    """The activation's segment group, which the delivery must name (403) and must exist (409)."""
    expected = client.activation.segment_group_identifier
    if delivery.segment_group_identifier != expected:
        raise WebhookRejected(
            403,
            "segment_group_mismatch",
            f"This activation writes to the segment group {expected!r}, not "
            f"{delivery.segment_group_identifier!r}; correct the Segment Group Identifier in "
            "the CDP's activation.",
        )
    group = SegmentGroup.objects.filter(identifier=expected).first()
    if group is None:
        raise WebhookRejected(
            409,
            "segment_group_not_found",
            f"The segment group {expected!r} does not exist on this site yet; create it in the "
            "admin (CDP bridge > Segment groups), then send the delivery again.",
        )
    return group


def record_rejection(
    client: ActivationClient, error: WebhookRejected, body: bytes, delivery_id: str
) -> None:
    """Keep a refused delivery, with why, for the admin; best effort when the database is down.

    Only the start of its body is kept, as text, since it may be anything at all.
    """
    text = body[:REJECTED_BODY_KEPT].decode("utf-8", "replace").replace("\x00", "\ufffd")
    try:
        WebhookDelivery.objects.create(
            client_id=client.client_id,
            scope=client.scope.name,
            delivery_id=delivery_id[:255],
            body_hash=hashlib.sha256(body).hexdigest() if body else "",
            status=Status.REJECTED,
            body=text,
            error=error.message,
            result=error.as_result(),
            processed_at=timezone.now(),
        )
    except DatabaseError:
        logger.warning("Could not record a rejected webhook delivery", exc_info=True)


# -- the queue ---------------------------------------------------------------------------------


def dispatch(record: WebhookDelivery) -> None:
    """Hand a queued delivery to Celery once it is committed, when ``webhook.queue`` says so.

    Otherwise (and should Celery fail to take it) it waits for ``cdp_process_deliveries``.
    """
    if conf.cdp_settings().webhook.queue == "celery":
        pk = record.pk
        transaction.on_commit(lambda: _send_to_celery(pk))


def _send_to_celery(pk: int) -> None:
    try:
        from cdp_bridge.tasks import process_queued_delivery

        process_queued_delivery.delay(pk)
    except Exception:  # the broker is down, misconfigured...: the delivery is safe in the table
        logger.warning(
            "Could not queue webhook delivery %s on Celery; cdp_process_deliveries will apply it.",
            pk,
            exc_info=True,
        )


def process_delivery(pk: int) -> WebhookDelivery | None:
    """Apply one queued delivery; None when it is not queued (done, or taken by another worker).

    The command and the Celery task both call this. When the database cannot be reached or the
    configuration is broken, the error propagates and the delivery stays queued; any other
    failure marks it failed.
    """
    record: WebhookDelivery | None = None
    try:
        with transaction.atomic():
            record = (
                WebhookDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.QUEUED)
                .first()
            )
            if record is None:
                return None
            client, delivery = _reread(record)
            group = segment_group_for(client, delivery)
            result = apply_delivery(delivery, group, PersonIdentifier.for_scope(client.scope))
            _mark_applied(record, result)
    except (*UNAVAILABLE, ConfigurationError):
        raise  # the site's trouble, not the delivery's: it stays queued
    except Exception as error:
        if record is None:
            raise
        _record_failure(record, error)
        record.refresh_from_db()
        return record
    logger.info("Applied queued webhook delivery %s: %s", record.idempotency_key, _summary(result))
    return record


def process_queued(limit: int | None = None) -> list[WebhookDelivery]:
    """Apply queued deliveries, oldest first; returns those processed. Also drops stale parts."""
    drop_expired_parts()
    processed: list[WebhookDelivery] = []
    tried: set[int] = set()
    while limit is None or len(tried) < limit:
        pk = (
            WebhookDelivery.objects.filter(status=Status.QUEUED)
            .exclude(pk__in=tried)
            .order_by("received_at", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            break
        tried.add(pk)
        record = process_delivery(pk)
        if record is not None:
            processed.append(record)
    return processed


def reapply(record: WebhookDelivery) -> WebhookDelivery:
    """Queue a failed delivery again and apply it now if it is small (the admin's action).

    It takes back its idempotency key; if a later resend was applied meanwhile, it becomes a
    duplicate of that one instead of applying the same change twice.
    """
    if record.status != Status.FAILED:
        raise ValueError(f"Only failed deliveries can be re-applied, not {record.status} ones.")
    record.status = Status.QUEUED
    record.error = ""
    record.idempotency_key = idempotency_key(record.delivery_id, record.body_hash)
    queued = is_queued(record.member_count)
    try:
        with _claiming(record):
            if queued:
                dispatch(record)
    except KeyHeld as held:
        return _save_duplicate(record, held.holder)
    if queued:
        return record
    return process_delivery(record.pk) or record


# -- claiming, recording ---------------------------------------------------------------------------


class KeyHeld(Exception):
    """Another delivery holds the idempotency key: this one is its duplicate."""

    def __init__(self, holder: WebhookDelivery) -> None:
        super().__init__(holder.idempotency_key)
        self.holder = holder


@contextmanager
def _claiming(record: WebhookDelivery) -> Iterator[None]:
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


def _save_duplicate(record: WebhookDelivery, holder: WebhookDelivery) -> WebhookDelivery:
    """Keep ``record`` (new, or failed and re-applied) as a duplicate of ``holder``."""
    record.idempotency_key = None
    record.status = Status.DUPLICATE
    record.duplicate_of = holder
    record.processed_at = timezone.now()
    record.save()
    logger.info("Webhook delivery %s is a duplicate", holder.idempotency_key)
    return record


def _duplicate_answer(record: WebhookDelivery) -> Answer:
    holder = record.duplicate_of
    assert holder is not None
    return Answer(
        200,
        {
            "status": "duplicate",
            "delivery_id": holder.idempotency_key,
            "original_status": holder.status,
            "received_at": holder.received_at.isoformat(),
        },
    )


def _mark_applied(record: WebhookDelivery, result: SyncResult) -> None:
    record.status = Status.APPLIED
    record.result = result.as_json()
    record.processed_at = timezone.now()
    record.attempts += 1
    record.save(update_fields=["status", "result", "processed_at", "attempts"])


def _reread(record: WebhookDelivery) -> tuple[ActivationClient, Delivery]:
    """The activation and delivery of a stored record, as when it was received."""
    found = conf.find_activation(record.client_id)
    if found is None:
        raise CdpBridgeError(
            f"The activation {record.client_id!r} is no longer configured; restore it in "
            "CDP_BRIDGE, then re-apply the delivery."
        )
    return ActivationClient(*found), validate_delivery(parse_json(record.body.encode()))


def _record_failure(record: WebhookDelivery, error: Exception) -> None:
    """After a rollback: keep the delivery as failed (or rejected), without its key."""
    fields: dict[str, Any] = {
        "status": Status.FAILED,
        "idempotency_key": None,
        "error": _describe(error),
        "processed_at": timezone.now(),
    }
    if isinstance(error, WebhookRejected):
        fields["status"] = Status.REJECTED
        fields["result"] = error.as_result()
    else:
        logger.error("Webhook delivery %s failed", record.idempotency_key, exc_info=error)
    try:
        with transaction.atomic():
            # A queued delivery is there to update; one received just now was rolled back.
            updated = WebhookDelivery.objects.filter(pk=record.pk).update(
                attempts=F("attempts") + 1, **fields
            )
            if not updated:
                for name, value in {**fields, "pk": None, "attempts": 1}.items():
                    setattr(record, name, value)
                record.save(force_insert=True)
    except DatabaseError:
        logger.warning("Could not record the failure of a webhook delivery", exc_info=True)


def _describe(error: Exception) -> str:
    if isinstance(error, WebhookRejected):
        return error.message
    return f"{type(error).__name__}: {error}"


def _summary(result: SyncResult) -> str:
    def total(key: str) -> int:
        return sum(getattr(audience, key) for audience in result.audiences)

    return (
        f"{len(result.audiences)} audiences, +{total('added')} -{total('removed')} members, "
        f"{total('unknown_members')} unknown, {len(result.removed_audiences)} audiences removed"
    )
