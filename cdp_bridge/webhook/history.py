"""The history of deliveries: what each WebhookDelivery record says became of it.

Every authenticated POST is kept, whether it was applied, queued, a duplicate, refused or
failed, so that the admin can show it and re-apply a failed one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from cdp_bridge import signals
from cdp_bridge.exceptions import WebhookRejected
from cdp_bridge.models import WebhookDelivery, WebhookSignature
from cdp_bridge.models.webhook import MAX_DELIVERY_ID_LENGTH
from cdp_bridge.translation import in_english
from cdp_bridge.webhook.clients import ActivationClient
from cdp_bridge.webhook.sync import SyncResult

logger = logging.getLogger("cdp_bridge.webhook")

Status = WebhookDelivery.Status
REJECTED_BODY_KEPT = 64 * 1024


def record_rejection(
    client: ActivationClient, error: WebhookRejected, body: bytes, delivery_id: str
) -> None:
    """Keep a delivery refused before it was read whole, with why; best effort.

    Only the start of its body is kept, as text, since it may be anything at all. When the
    database is down, the refusal is answered all the same.
    """
    text = body[:REJECTED_BODY_KEPT].decode("utf-8", "replace").replace("\x00", "\ufffd")
    try:
        WebhookDelivery.objects.create(
            client_id=client.client_id,
            scope=client.scope.name,
            delivery_id=delivery_id[:MAX_DELIVERY_ID_LENGTH],
            body_hash=hashlib.sha256(body).hexdigest() if body else "",
            status=Status.REJECTED,
            body=text,
            error=in_english(error.message),
            result=error.as_result(),
            processed_at=timezone.now(),
        )
    except DatabaseError:
        logger.warning("Could not record a rejected webhook delivery", exc_info=True)


def mark_applied(record: WebhookDelivery, result: SyncResult) -> None:
    """Inside the transaction that applied it: the delivery is applied, with its result.

    ``delivery_applied`` is sent once that transaction commits.
    """
    record.status = Status.APPLIED
    record.result = result.as_json()
    record.processed_at = timezone.now()
    record.attempts += 1
    record.save(update_fields=["status", "result", "processed_at", "attempts"])
    signals.delivery_applied.send_after_commit(WebhookDelivery, delivery=record, result=result)


def mark_duplicate(record: WebhookDelivery, holder: WebhookDelivery) -> WebhookDelivery:
    """Keep ``record`` (new, or failed and re-applied) as a duplicate of ``holder``."""
    record.idempotency_key = None
    record.status = Status.DUPLICATE
    record.duplicate_of = holder
    record.processed_at = timezone.now()
    record.save()
    logger.info("Webhook delivery %s is a duplicate", holder.reference)
    return record


def record_failure(record: WebhookDelivery, error: Exception) -> None:
    """After a rollback: keep the delivery as failed (or rejected), without its key or its
    signature, so that a resend of it is applied.

    ``record`` is updated to say so. The caller reports the error: a request's through Django, a
    queued delivery's in the log. A failed delivery (one the site could not apply, which a
    re-apply can) sends ``delivery_failed`` once recorded; a rejected one was the sender's
    mistake, and its answer says so.
    """
    fields: dict[str, Any] = {
        "status": Status.FAILED,
        "idempotency_key": None,
        "error": _describe(error),
        "processed_at": timezone.now(),
    }
    if isinstance(error, WebhookRejected):
        fields["status"] = Status.REJECTED
        fields["result"] = error.as_result()
    try:
        with transaction.atomic():
            # A queued delivery is there to update; one received just now was rolled back.
            updated = WebhookDelivery.objects.filter(pk=record.pk).update(
                attempts=F("attempts") + 1, **fields
            )
            if updated:
                WebhookSignature.objects.filter(delivery_id=record.pk).delete()
                record.refresh_from_db(fields=[*fields, "attempts"])
            else:
                for name, value in {**fields, "pk": None, "attempts": 1}.items():
                    setattr(record, name, value)
                record.save(force_insert=True)
            if record.status == Status.FAILED:
                signals.delivery_failed.send_after_commit(
                    WebhookDelivery, delivery=record, error=error
                )
    except DatabaseError:
        logger.warning("Could not record the failure of a webhook delivery", exc_info=True)


def _describe(error: Exception) -> str:
    if isinstance(error, WebhookRejected):
        return in_english(error.message)
    return f"{type(error).__name__}: {error}"


def summary(result: SyncResult) -> str:
    """One line for the log: audiences, members added and removed, unknown members."""

    def total(key: str) -> int:
        return sum(getattr(audience, key) for audience in result.audiences)

    return (
        f"{len(result.audiences)} audiences, +{total('added')} -{total('removed')} members, "
        f"{total('unknown_members')} unknown, {len(result.removed_audiences)} audiences removed"
    )
