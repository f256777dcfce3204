"""The admin lists export runs read-only, and never shows a stream id in full."""

import pytest
from django.urls import reverse

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
