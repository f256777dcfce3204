"""The admin shows the schedule's state read-only: how each entry last ran, who holds it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cdp_bridge.models import ScheduleState

pytestmark = pytest.mark.django_db


def state(**fields):
    now = timezone.now()
    return ScheduleState.objects.create(
        entry_key=fields.pop("entry_key", "a" * 64),
        kind="user",
        scope="default",
        interval="*/15 * * * *",
        options="--no-draft",
        last_fire_time=now,
        last_started_at=now,
        **fields,
    )


def test_each_entry_is_listed_with_its_last_result_and_error(admin_client):
    state(last_result="failed", last_error="The CDP rejected batch 2 with HTTP 400")
    page = admin_client.get(reverse("admin:cdp_bridge_schedulestate_changelist"))
    content = page.content.decode()
    assert page.status_code == 200
    assert "*/15 * * * *" in content and "--no-draft" in content
    assert '<td class="field-result">failed</td>' in content
    assert "The CDP rejected batch 2 with HTTP 400" in content


def test_a_run_whose_lease_lapsed_is_shown_interrupted_and_a_live_one_running(admin_client):
    now = timezone.now()
    state(
        entry_key="a" * 64,
        last_result="running",
        lease_owner="dead:1",
        lease_expires_at=now - timedelta(minutes=1),
    )
    state(
        entry_key="b" * 64,
        last_result="running",
        lease_owner="alive:2",
        lease_expires_at=now + timedelta(minutes=4),
    )
    content = admin_client.get(reverse("admin:cdp_bridge_schedulestate_changelist")).content
    assert b'<td class="field-result">interrupted</td>' in content
    assert b'<td class="field-result">running</td>' in content


def test_the_state_is_read_only(admin_client):
    entry = state(last_result="succeeded")
    assert admin_client.get(reverse("admin:cdp_bridge_schedulestate_add")).status_code == 403
    page = admin_client.get(reverse("admin:cdp_bridge_schedulestate_change", args=[entry.pk]))
    assert page.status_code == 200
    assert 'name="interval"' not in page.content.decode()
    changed = admin_client.post(
        reverse("admin:cdp_bridge_schedulestate_change", args=[entry.pk]), {"interval": "@daily"}
    )
    assert changed.status_code == 403
    entry.refresh_from_db()
    assert entry.interval == "*/15 * * * *"
