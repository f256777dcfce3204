"""The Celery task for queued deliveries, run eagerly (a real worker is another issue's test)."""

import pytest
from celery import Celery

from cdp_bridge.models import WebhookDelivery
from cdp_bridge.tasks import process_queued_delivery

from .conftest import audience, delivery, ids, members, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    app = Celery("tests", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    return app


@pytest.fixture
def queued(client, group, users, configure):
    configure(bulk_async_threshold=1)
    post(client, delivery(audience(members=ids(users[:2]))))
    return WebhookDelivery.objects.get()


def test_the_task_applies_a_queued_delivery(queued):
    assert process_queued_delivery(queued.pk) == "applied"
    assert members("5d822e81") == {"user0", "user1"}


def test_the_task_runs_through_celery_and_is_harmless_twice(queued, eager_celery):
    assert process_queued_delivery.apply(args=[queued.pk]).get() == "applied"
    assert process_queued_delivery.delay(queued.pk).get() is None
    assert WebhookDelivery.objects.get().status == "applied"
