"""The webhook's signals: delivery_applied, delivery_failed and segment_group_locked.

Each is sent once the delivery's transaction commits, by every path that applies a delivery (at
once, the queue's command and Celery task, the admin's re-apply), and a receiver that raises
neither undoes the delivery nor keeps the other receivers from hearing of it.
"""

import io
import logging

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from cdp_bridge import signals
from cdp_bridge.models import SegmentGroup, WebhookDelivery
from cdp_bridge.tasks import process_queued_delivery
from cdp_bridge.webhook.sync import SyncResult

from .conftest import audience, delivery, ids, members, post
from .test_deliveries import fail_membership_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(client, group, users, configure, committed):
    """A delivery of users 0 and 1, queued (the group is locked by it)."""
    configure(bulk_async_threshold=1)
    with committed():
        post(client, delivery(audience(members=ids(users[:2]))))
    return WebhookDelivery.objects.get()


def test_an_applied_delivery_is_sent_with_its_record_and_result_after_commit(
    client, group, users, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = post(client, delivery(audience(members=ids(users[:3]))))
    assert response.json()["status"] == "applied"
    assert heard.calls == []  # nothing before the transaction commits
    for callback in after_commit:
        callback()
    assert heard.names == ["segment_group_locked", "delivery_applied"]
    (sent,) = heard.of("delivery_applied")
    assert sent["delivery"] == WebhookDelivery.objects.get()
    assert sent["delivery"].status == "applied"
    assert isinstance(sent["result"], SyncResult)
    assert [(a.id, a.added, a.status) for a in sent["result"].audiences] == [
        ("5d822e81", 3, "applied")
    ]
    assert heard.calls[1][1] is WebhookDelivery  # the sender


@pytest.mark.django_db(transaction=True)
def test_receivers_run_once_the_delivery_is_committed_and_see_it(client, group, users):
    seen = []

    def receiver(sender, delivery, result, **kwargs):
        # Outside any transaction, and what the receiver reads is there for good.
        seen.append((connection.in_atomic_block, delivery.status, members("5d822e81")))

    signals.delivery_applied.connect(receiver)
    try:
        post(client, delivery(audience(members=ids(users[:2]))))
    finally:
        signals.delivery_applied.disconnect(receiver)
    assert seen == [(False, "applied", {"user0", "user1"})]


def test_only_the_first_connection_to_a_group_sends_segment_group_locked(
    client, group, users, heard, committed
):
    with committed():
        post(client, delivery(audience(members=ids(users[:1]))))
        post(client, delivery(audience(members=ids(users[:2]))))
    (sent,) = heard.of("segment_group_locked")
    assert sent["group"] == group
    assert sent["group"].is_locked
    assert heard.of("delivery_applied")[1]["delivery"].status == "applied"


def test_a_failed_delivery_sends_delivery_failed_and_nothing_it_rolled_back(
    answering_client, group, users, heard, committed, monkeypatch
):
    fail_membership_writes(monkeypatch, RuntimeError("disk full"))
    with committed():
        assert post(answering_client, delivery(audience(members=ids(users[:2])))).status_code == 500
    # The group's lock rolled back with the delivery: it is not the CDP's yet.
    assert heard.names == ["delivery_failed"]
    assert not SegmentGroup.objects.get().is_locked
    (sent,) = heard.of("delivery_failed")
    assert sent["delivery"].status == "failed"
    assert sent["delivery"].error == "RuntimeError: disk full"
    assert sent["delivery"] == WebhookDelivery.objects.get()
    assert isinstance(sent["error"], RuntimeError)


class SiteError(Exception):
    pass


def test_nothing_is_sent_when_the_transaction_around_a_delivery_rolls_back(
    client, group, users, heard, committed
):
    from cdp_bridge.webhook.clients import find_client
    from cdp_bridge.webhook.payload import Delivery
    from cdp_bridge.webhook.receiving import receive
    from cdp_bridge.webhook.serializers import validate_delivery

    parsed: Delivery = validate_delivery(delivery(audience(members=ids(users[:2]))))
    activation = find_client("raptor-activation")
    with committed(), pytest.raises(SiteError), transaction.atomic():
        assert receive(activation, parsed, "{}", "d-1").outcome == "applied"
        raise SiteError("the site's own transaction fails after the delivery was applied in it")
    assert heard.calls == []
    assert not WebhookDelivery.objects.exists()


def test_a_delivery_applied_by_cdp_process_deliveries_is_sent(queued, heard, committed):
    assert heard.calls == []  # queued: not applied yet
    with committed():
        call_command("cdp_process_deliveries", stdout=io.StringIO())
    (sent,) = heard.of("delivery_applied")
    assert sent["delivery"].pk == queued.pk
    assert sent["delivery"].status == "applied"
    assert sent["result"].audiences[0].added == 2


def test_a_delivery_applied_by_the_celery_task_is_sent(queued, heard, committed):
    with committed():
        assert process_queued_delivery(queued.pk) == "applied"
    assert [sent["delivery"].pk for sent in heard.of("delivery_applied")] == [queued.pk]


def test_a_queued_delivery_that_fails_is_sent_as_failed(queued, heard, committed, monkeypatch):
    fail_membership_writes(monkeypatch, RuntimeError("boom"))
    with committed():
        call_command("cdp_process_deliveries", stdout=io.StringIO())
    assert heard.names == ["delivery_failed"]
    (sent,) = heard.of("delivery_failed")
    assert (sent["delivery"].pk, sent["delivery"].status, sent["delivery"].attempts) == (
        queued.pk,
        "failed",
        1,
    )


def test_a_delivery_reapplied_from_the_admin_is_sent(
    admin_client, answering_client, group, users, heard, committed, monkeypatch
):
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("disk full"))
        post(answering_client, delivery(audience(members=ids(users[:2]))))
    failed = WebhookDelivery.objects.get()
    with committed():
        admin_client.post(
            reverse("admin:cdp_bridge_webhookdelivery_changelist"),
            {"action": "reapply", "_selected_action": [failed.pk]},
        )
    (sent,) = heard.of("delivery_applied")
    assert (sent["delivery"].pk, sent["delivery"].status) == (failed.pk, "applied")


@pytest.mark.django_db(transaction=True)  # committed as the webhook commits: in the request
def test_a_receiver_that_raises_is_logged_and_the_delivery_stays_applied(
    client, group, users, caplog
):
    def broken(sender, **kwargs):
        raise KeyError("crm_id")

    later = []

    def after(sender, delivery, **kwargs):
        later.append(delivery.status)

    signals.delivery_applied.connect(broken)
    signals.delivery_applied.connect(after)
    try:
        with caplog.at_level(logging.ERROR):
            response = post(client, delivery(audience(members=ids(users[:2]))))
    finally:
        signals.delivery_applied.disconnect(broken)
        signals.delivery_applied.disconnect(after)
    assert response.json()["status"] == "applied"
    assert WebhookDelivery.objects.get().status == "applied"
    assert members("5d822e81") == {"user0", "user1"}
    assert later == ["applied"]  # a receiver connected after the broken one heard of it too
    (record,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert record.name == "cdp_bridge.signals"
    assert record.levelname == "ERROR"
    assert record.exc_info[0] is KeyError  # the traceback, for the site's developers
    assert record.getMessage() == (
        "A receiver of cdp_bridge.signals.delivery_applied, "
        "test_a_receiver_that_raises_is_logged_and_the_delivery_stays_applied.<locals>.broken, "
        "raised KeyError: 'crm_id'. What was done stands; fix the receiver."
    )
