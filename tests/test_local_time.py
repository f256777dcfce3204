"""Times shown to people are in the site's TIME_ZONE and say which zone they are in."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from cdp_bridge.local_time import local_time
from cdp_bridge.models import (
    ExportRun,
    ScheduleState,
    Segment,
    SegmentGroup,
    WebhookDelivery,
)

WINTER = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


@pytest.mark.parametrize(
    ("moment", "shown"), [(WINTER, "2026-12-01 10:00 CET"), (SUMMER, "2026-07-01 11:00 CEST")]
)
def test_a_time_is_shown_in_the_site_time_zone_with_its_name(berlin, moment, shown):
    assert local_time(moment) == shown


def test_a_site_in_utc_says_so(settings):
    settings.TIME_ZONE = "UTC"
    assert local_time(WINTER) == "2026-12-01 09:00 UTC"


def test_a_naive_time_of_a_site_without_use_tz_is_already_local(berlin, settings):
    settings.USE_TZ = False
    assert local_time(datetime(2026, 12, 1, 10, 0)) == "2026-12-01 10:00 CET"


@pytest.mark.django_db
def test_an_export_run_is_titled_with_its_local_start(berlin):
    run = ExportRun.objects.create(kind="user", scope="default", source="user", draft=False)
    ExportRun.objects.filter(pk=run.pk).update(started_at=WINTER)
    run.refresh_from_db()
    assert str(run) == "user (user, full) 2026-12-01 10:00 CET"


def listed(admin_client, model):
    page = admin_client.get(reverse(f"admin:cdp_bridge_{model._meta.model_name}_changelist"))
    assert page.status_code == 200
    return page.content.decode()


@pytest.mark.django_db
def test_the_admin_lists_times_in_the_site_time_zone_with_its_name(admin_client, berlin):
    group = SegmentGroup.objects.create(identifier="g", name="G")
    SegmentGroup.objects.filter(pk=group.pk).update(locked_at=WINTER)
    Segment.objects.create(group=SegmentGroup.objects.create(identifier="h"), identifier="s")
    Segment.objects.update(cdp_updated_at=SUMMER)
    ExportRun.objects.create(kind="user", scope="default")
    ExportRun.objects.update(started_at=WINTER)
    WebhookDelivery.objects.create(client_id="raptor", scope="default", status="applied")
    WebhookDelivery.objects.update(received_at=SUMMER)
    ScheduleState.objects.create(
        entry_key="a" * 64,
        kind="user",
        scope="default",
        interval="* * * * *",
        options="",
        last_fire_time=WINTER,
    )
    ScheduleState.objects.update(last_started_at=WINTER, lease_expires_at=SUMMER)

    def cell(content, field, text):
        """Whether the column of ``field`` shows ``text`` (in a link, in the first column)."""
        pattern = rf'<t[dh] class="field-{field}">(<a href="[^"]*">)?{text}(</a>)?</t[dh]>'
        return re.search(pattern, content) is not None

    assert cell(listed(admin_client, SegmentGroup), "locked_at", "2026-12-01 10:00 CET")
    assert cell(listed(admin_client, Segment), "cdp_updated_at", "2026-07-01 11:00 CEST")
    assert cell(listed(admin_client, ExportRun), "started_at", "2026-12-01 10:00 CET")
    assert cell(listed(admin_client, WebhookDelivery), "received_at", "2026-07-01 11:00 CEST")
    schedule = listed(admin_client, ScheduleState)
    assert cell(schedule, "last_started_at", "2026-12-01 10:00 CET")
    assert cell(schedule, "lease_expires_at", "2026-07-01 11:00 CEST")
