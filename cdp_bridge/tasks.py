"""Celery tasks. Celery is imported here only, so cdp_bridge works without the ``celery`` extra.

Set ``webhook.queue: celery`` for the webhook to hand queued deliveries to a worker; without
it they wait for ``manage.py cdp_process_deliveries``.
"""

from __future__ import annotations

from celery import shared_task

from cdp_bridge.webhook.deliveries import UNAVAILABLE, process_delivery


@shared_task(  # type: ignore[untyped-decorator]
    name="cdp_bridge.process_queued_delivery",
    # The delivery stays queued while the database is away: try again, more slowly each time.
    autoretry_for=UNAVAILABLE,
    retry_backoff=True,
    max_retries=8,
)
def process_queued_delivery(pk: int) -> str | None:
    """Apply one queued webhook delivery; returns its status (None: not queued any more)."""
    record = process_delivery(pk)
    return record.status if record else None
