"""The admin lists export runs read-only, shows stream ids masked and dead runs interrupted."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cdp_bridge.models import ExportRun

from ..conftest import STREAM_ID

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return ExportRun.objects.create(
        kind="user",
        scope="default",
        source="user",
        transport="stream_file",
        stream_id=STREAM_ID,
        destination="stream 0a1b…4c5d",
        draft=False,
        rows=1000,
        batches=1,
        status=ExportRun.Status.FAILED,
        error="The CDP rejected batch 2 with HTTP 400",
    )


def test_runs_are_listed_with_their_outcome(admin_client, run):
    page = admin_client.get(reverse("admin:cdp_bridge_exportrun_changelist"))
    content = page.content.decode()
    assert page.status_code == 200
    assert "stream 0a1b…4c5d" in content
    assert "failed" in content
    assert STREAM_ID not in content


def test_a_run_opens_read_only_with_its_error_and_the_stream_id_masked(admin_client, run):
    page = admin_client.get(reverse("admin:cdp_bridge_exportrun_change", args=[run.pk]))
    content = page.content.decode()
    assert page.status_code == 200
    assert "The CDP rejected batch 2 with HTTP 400" in content
    assert "0a1b…4c5d" in content
    assert STREAM_ID not in content
    assert 'name="rows"' not in content  # nothing to edit


def test_runs_are_not_added_by_hand(admin_client):
    page = admin_client.get(reverse("admin:cdp_bridge_exportrun_add"))
    assert page.status_code == 403


def test_a_run_whose_heartbeat_stopped_is_shown_interrupted_not_running(admin_client):
    now = timezone.now()
    killed = ExportRun.objects.create(kind="user", scope="default", source="user", draft=False)
    working = ExportRun.objects.create(kind="user", scope="default", source="user", draft=False)
    ExportRun.objects.filter(pk=killed.pk).update(heartbeat_at=now - timedelta(minutes=6))
    page = admin_client.get(reverse("admin:cdp_bridge_exportrun_changelist"))
    assert page.status_code == 200
    statuses = dict(ExportRun.objects.values_list("pk", "status"))
    assert statuses == {killed.pk: "interrupted", working.pk: "running"}
    cells = re.findall(r'<td class="field-status">(\w+)</td>', page.content.decode())
    assert sorted(cells) == ["interrupted", "running"]
    detail = admin_client.get(reverse("admin:cdp_bridge_exportrun_change", args=[killed.pk]))
    assert (
        "its heartbeat stopped. A full export continues with --resume." in detail.content.decode()
    )
    killed.refresh_from_db()
    assert killed.finished_at == now - timedelta(minutes=6)  # when it was last seen alive
