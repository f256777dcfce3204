"""Re-applying a failed delivery: the admin's action."""

from __future__ import annotations

from cdp_bridge.models import WebhookDelivery
from cdp_bridge.webhook import history, queue
from cdp_bridge.webhook.receiving import KeyHeld, claiming


def reapply(record: WebhookDelivery) -> WebhookDelivery:
    """Queue a failed delivery again and apply it now if it is small.

    It takes back its idempotency key; if a later resend was applied meanwhile, it becomes a
    duplicate of that one instead of applying the same change twice.
    """
    if record.status != WebhookDelivery.Status.FAILED:
        raise ValueError(f"Only failed deliveries can be re-applied, not {record.status} ones.")
    record.status = WebhookDelivery.Status.QUEUED
    record.error = ""
    record.idempotency_key = record.own_idempotency_key()
    queued = queue.is_queued(record.member_count)
    try:
        with claiming(record):
            if queued:
                queue.dispatch(record)
    except KeyHeld as held:
        return history.mark_duplicate(record, held.holder)
    if queued:
        return record
    return queue.process_delivery(record.pk) or record
