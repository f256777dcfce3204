"""Upgrading keeps what makes deliveries duplicates: migration 0005 rewrites stored keys."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cdp_bridge.models import WebhookDelivery

BEFORE = [("cdp_bridge", "0004_schedulestate")]
AFTER = [("cdp_bridge", "0005_webhook_idempotency_key")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_keys_stored_before_the_upgrade_are_the_keys_new_deliveries_claim():
    old = migrate(BEFORE).get_model("cdp_bridge", "WebhookDelivery")
    stored = {"client_id": "c", "scope": "default", "status": "applied"}
    old.objects.create(delivery_id="d-1", body_hash="a" * 64, idempotency_key="d-1", **stored)
    old.objects.create(
        delivery_id="", body_hash="b" * 64, idempotency_key=f"sha256:{'b' * 64}", **stored
    )
    old.objects.create(delivery_id="d-2", body_hash="c" * 64, idempotency_key=None, **stored)
    try:
        migrate(AFTER)
        after = list(WebhookDelivery.objects.order_by("pk"))
        assert [delivery.idempotency_key for delivery in after] == [
            "id:d-1",
            f"sha256:{'b' * 64}",
            None,
        ]
        assert [d.own_idempotency_key() for d in after[:2]] == [
            d.idempotency_key for d in after[:2]
        ]
        migrate(BEFORE)
        assert list(old.objects.order_by("pk").values_list("idempotency_key", flat=True)) == [
            "d-1",
            f"sha256:{'b' * 64}",
            None,
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("cdp_bridge"))
