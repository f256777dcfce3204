"""Delivery history, idempotency, the queue and re-applying."""

import logging

import pytest
from celery import Celery
from django.db import OperationalError

from cdp_bridge.models import Segment, WebhookDelivery
from cdp_bridge.segmentation import lock_segment_group
from cdp_bridge.tasks import process_queued_delivery
from cdp_bridge.webhook import queue
from cdp_bridge.webhook.queue import process_delivery, process_queued
from cdp_bridge.webhook.reapplying import reapply

from .conftest import audience, delivery, ids, members, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_everything(configure):
    configure(bulk_async_threshold=1)


def fail_membership_writes(monkeypatch, error):
    from cdp_bridge.webhook import sync

    real_writer = sync.membership_writer

    def failing(person_field):
        writer = real_writer(person_field)

        def refuse(*args, **kwargs):
            raise error

        writer.replace = writer.change = refuse
        return writer

    monkeypatch.setattr(sync, "membership_writer", failing)


def test_a_failed_delivery_gives_up_its_id_so_the_cdp_retry_is_applied(
    answering_client, group, users, monkeypatch
):
    client = answering_client
    body = delivery(audience(members=ids(users[:2])))
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("disk full"))
        assert post(client, body, HTTP_X_CDP_DELIVERY_ID="d-7").status_code == 500
    retry = post(client, body, HTTP_X_CDP_DELIVERY_ID="d-7")
    assert retry.json()["status"] == "applied"
    assert members("5d822e81") == {"user0", "user1"}
    history = WebhookDelivery.objects.order_by("pk")
    assert [(d.status, d.idempotency_key) for d in history] == [
        ("failed", None),
        ("applied", "id:d-7"),
    ]
    assert history[0].error == "RuntimeError: disk full"


def test_a_queued_delivery_is_a_duplicate_while_it_waits(client, group, users, queue_everything):
    body = delivery(audience(members=ids(users[:2])))
    assert post(client, body).status_code == 202
    again = post(client, body)
    assert (again.status_code, again.json()["original_status"]) == (200, "queued")


def test_process_delivery_applies_a_queued_delivery_once(client, group, users, queue_everything):
    post(client, delivery(audience(members=ids(users[:3]))))
    queued = WebhookDelivery.objects.get()
    applied = process_delivery(queued.pk)
    assert (applied.status, applied.attempts) == ("applied", 1)
    assert applied.result["audiences"][0]["added"] == 3
    assert members("5d822e81") == {"user0", "user1", "user2"}
    assert process_delivery(queued.pk) is None  # done already


def test_a_queued_delivery_that_fails_is_marked_failed_with_its_error(
    client, group, users, queue_everything, monkeypatch
):
    post(client, delivery(audience(members=ids(users[:3]))))
    fail_membership_writes(monkeypatch, RuntimeError("boom"))
    failed = process_delivery(WebhookDelivery.objects.get().pk)
    assert (failed.status, failed.error, failed.attempts) == ("failed", "RuntimeError: boom", 1)
    assert failed.idempotency_key is None
    assert not Segment.objects.exists()


def test_a_queued_delivery_stays_queued_while_the_database_is_away(
    client, group, users, queue_everything, monkeypatch
):
    post(client, delivery(audience(members=ids(users[:3]))))
    fail_membership_writes(monkeypatch, OperationalError("connection refused"))
    with pytest.raises(OperationalError):
        process_delivery(WebhookDelivery.objects.get().pk)
    assert WebhookDelivery.objects.get().status == "queued"


def test_the_queue_is_processed_oldest_first(client, group, users, queue_everything):
    post(client, delivery(audience(members=ids(users[:3]))), HTTP_X_CDP_DELIVERY_ID="1")
    post(client, delivery(audience(members=ids(users[5:6]))), HTTP_X_CDP_DELIVERY_ID="2")
    assert [d.delivery_id for d in process_queued(limit=1)] == ["1"]
    assert [d.delivery_id for d in process_queued()] == ["2"]
    assert members("5d822e81") == {"user5"}
    assert process_queued() == []


def test_a_failed_delivery_is_reapplied(answering_client, group, users, monkeypatch):
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("boom"))
        post(answering_client, delivery(audience(members=ids(users[:2]))))
    failed = WebhookDelivery.objects.get()
    reapplied = reapply(failed)
    assert (reapplied.status, reapplied.error) == ("applied", "")
    assert members("5d822e81") == {"user0", "user1"}


def test_reapplying_after_the_cdp_resent_it_makes_a_duplicate_not_a_second_change(
    client, answering_client, group, users, monkeypatch
):
    body = delivery(audience(sync="delta", added=ids(users[:1])))
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("boom"))
        post(answering_client, body)
    post(client, body)  # the CDP's retry
    post(client, delivery(audience(sync="delta", removed=ids(users[:1]))))
    failed = WebhookDelivery.objects.get(status="failed")
    assert reapply(failed).status == "duplicate"
    assert members("5d822e81") == set()


def test_only_failed_deliveries_can_be_reapplied(client, group):
    post(client, delivery(audience()))
    with pytest.raises(ValueError, match="Only failed deliveries"):
        reapply(WebhookDelivery.objects.get())


def test_a_large_reapplied_delivery_goes_back_to_the_queue_and_locks_the_group_once_applied(
    answering_client, group, users, configure, monkeypatch
):
    with monkeypatch.context() as patched:
        fail_membership_writes(patched, RuntimeError("boom"))
        post(answering_client, delivery(audience(members=ids(users[:3]))))
    configure(bulk_async_threshold=3)
    assert reapply(WebhookDelivery.objects.get()).status == "queued"
    # The failed first attempt rolled its lock of the group back: applied, it locks it.
    group.refresh_from_db()
    assert not group.is_locked
    [applied] = process_queued()
    assert applied.status == "applied"
    group.refresh_from_db()
    assert group.is_locked


@pytest.fixture
def celery_broker():
    """A Celery app on an in-memory broker; returns a function reading the messages sent."""
    app = Celery("tests", broker="memory://", set_as_current=True)
    app.conf.task_default_queue = "cdp_bridge_webhook_tests"

    def sent():
        messages = []
        with app.connection_for_read() as connection:
            waiting = connection.SimpleQueue(app.conf.task_default_queue)
            while True:
                try:
                    message = waiting.get(timeout=0.1)
                except waiting.Empty:
                    return messages
                messages.append((message.headers["task"], message.payload[0]))
                message.ack()

    return sent


def test_with_celery_configured_a_queued_delivery_is_sent_to_its_task_once_committed(
    client, group, users, configure, celery_broker, django_capture_on_commit_callbacks
):
    configure(bulk_async_threshold=1, webhook={"queue": "celery"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(client, delivery(audience(members=ids(users[:2]))))
    assert celery_broker() == []  # not before the delivery is committed
    for callback in callbacks:
        callback()
    pk = WebhookDelivery.objects.get().pk
    assert celery_broker() == [("cdp_bridge.process_queued_delivery", [pk])]
    assert process_queued_delivery.name == "cdp_bridge.process_queued_delivery"


def test_when_celery_cannot_take_it_the_delivery_waits_for_the_command(
    client, group, users, configure, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    configure(bulk_async_threshold=1, webhook={"queue": "celery"})
    unreachable = Celery("tests", broker="redis://127.0.0.1:9/0", set_as_current=True)
    unreachable.conf.broker_connection_retry = False
    unreachable.conf.broker_connection_max_retries = 0
    unreachable.conf.broker_transport_options = {"max_retries": 0}
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = post(client, delivery(audience(members=ids(users[:2]))))
    assert response.status_code == 202
    assert "cdp_process_deliveries will apply it" in caplog.text
    assert [d.status for d in process_queued()] == ["applied"]


def test_without_celery_configured_nothing_is_handed_over(
    client, group, users, queue_everything, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(queue, "_send_to_celery", pytest.fail)
    lock_segment_group(group)  # or locking it would be the one thing to do after commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post(client, delivery(audience(members=ids(users[:2]))))
    assert callbacks == []
