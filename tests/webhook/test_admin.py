"""Webhook deliveries in the admin: the history, the error, and the "re-apply" action."""

import pytest
from django.urls import reverse

from cdp_bridge.models import SegmentGroup, WebhookDelivery

from .conftest import audience, delivery, ids, members, post
from .test_deliveries import fail_membership_writes

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:cdp_bridge_webhookdelivery_changelist"


@pytest.fixture
def failed(answering_client, group, users, monkeypatch):
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("disk full"))
        post(
            answering_client,
            delivery(audience(members=ids(users[:2]))),
            HTTP_X_CDP_DELIVERY_ID="d-9",
        )
    return WebhookDelivery.objects.get(status="failed")


def test_failed_deliveries_are_listed_with_their_error(admin_client, failed):
    page = admin_client.get(reverse(CHANGELIST), {"status__exact": "failed"})
    assert page.status_code == 200
    assert "d-9" in page.content.decode()
    assert "RuntimeError: disk full" in page.content.decode()


def test_a_delivery_shows_the_start_of_its_body_read_only(admin_client, failed):
    failed.body = "x" * 50_000
    failed.save()
    url = reverse("admin:cdp_bridge_webhookdelivery_change", args=[failed.pk])
    page = admin_client.get(url).content.decode()
    assert "x" * 9_999 in page
    assert "x" * 10_001 not in page
    assert 'name="status"' not in page  # nothing editable
    assert admin_client.get(reverse("admin:cdp_bridge_webhookdelivery_add")).status_code == 403


def test_the_reapply_action_applies_failed_deliveries_and_skips_the_others(
    admin_client, failed, client
):
    post(client, delivery(audience("other")))
    response = admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "reapply",
            "_selected_action": list(WebhookDelivery.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )
    messages = [str(message) for message in response.context["messages"]]
    assert messages == [
        "1 delivery re-applied: applied.",
        "1 delivery was skipped: only failed deliveries can be re-applied.",
    ]
    failed.refresh_from_db()
    assert failed.status == "applied"
    assert members("5d822e81") == {"user0", "user1"}


def test_reapplying_the_first_delivery_locks_the_group_its_failure_left_unlocked(
    admin_client, failed
):
    """The failed first attempt rolled its lock of the group back with everything else."""
    group = SegmentGroup.objects.get()
    assert not group.is_locked
    admin_client.post(reverse(CHANGELIST), {"action": "reapply", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "applied"
    group.refresh_from_db()
    assert group.is_locked
    assert members("5d822e81") == {"user0", "user1"}
