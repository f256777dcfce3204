"""The queue: large deliveries are stored, answered 202, and applied in the background.

A queued delivery is a WebhookDelivery with status ``queued``. ``cdp_process_deliveries``
applies them (``process_queued``), and so does the Celery task
``cdp_bridge.process_queued_delivery`` when ``webhook.queue`` is ``celery``: the task is sent
by its name, so this module never imports ``cdp_bridge.tasks`` (which imports it).
"""

from __future__ import annotations

import logging

from django.db import transaction

from cdp_bridge import conf
from cdp_bridge.exceptions import DATABASE_UNAVAILABLE, CdpBridgeError, ConfigurationError
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.models import WebhookDelivery
from cdp_bridge.segmentation import lock_segment_group
from cdp_bridge.webhook import history
from cdp_bridge.webhook.body import parse_json
from cdp_bridge.webhook.clients import ActivationClient, find_client
from cdp_bridge.webhook.payload import Delivery
from cdp_bridge.webhook.serializers import validate_delivery
from cdp_bridge.webhook.snapshots import drop_expired_parts
from cdp_bridge.webhook.sync import apply_delivery

logger = logging.getLogger("cdp_bridge.webhook")

Status = WebhookDelivery.Status
CELERY_TASK = "cdp_bridge.process_queued_delivery"


def is_queued(member_count: int) -> bool:
    """Whether a delivery is queued rather than applied at once: ``bulk_async_threshold``."""
    return member_count >= conf.cdp_settings().bulk_async_threshold


def dispatch(record: WebhookDelivery) -> None:
    """Hand a queued delivery to Celery once it is committed, when ``webhook.queue`` says so.

    Otherwise (and should Celery fail to take it) it waits for ``cdp_process_deliveries``.
    """
    if conf.cdp_settings().webhook.queue == "celery":
        pk = record.pk
        transaction.on_commit(lambda: _send_to_celery(pk))


def _send_to_celery(pk: int) -> None:
    try:
        from celery import current_app

        current_app.send_task(CELERY_TASK, args=[pk])
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
    failure marks it failed (and is logged, with its traceback).
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
            group = client.segment_group(delivery.segment_group_identifier)
            # Applied, the group is the CDP's: also when the lock taken on receiving it was
            # rolled back with a failed first attempt.
            lock_segment_group(group)
            result = apply_delivery(delivery, group, PersonIdentifier.for_scope(client.scope))
            history.mark_applied(record, result)
    except (*DATABASE_UNAVAILABLE, ConfigurationError):
        raise  # the site's trouble, not the delivery's: it stays queued
    except Exception as error:
        if record is None:
            raise
        logger.error("Queued webhook delivery %s failed", record.reference, exc_info=error)
        history.record_failure(record, error)
        return record
    logger.info("Applied queued webhook delivery %s: %s", record.reference, history.summary(result))
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


def _reread(record: WebhookDelivery) -> tuple[ActivationClient, Delivery]:
    """The activation and delivery of a stored record, as when it was received."""
    client = find_client(record.client_id)
    if client is None:
        raise CdpBridgeError(
            f"The activation {record.client_id!r} is no longer configured; restore it in "
            "CDP_BRIDGE, then re-apply the delivery."
        )
    return client, validate_delivery(parse_json(record.body.encode()))
