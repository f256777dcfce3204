"""The admin: groups and segments, read-only and undeletable once locked; counts without N+1."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdp_bridge import segmentation
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_group():
    group = SegmentGroup.objects.create(identifier="cdp_audiences", name="CDP audiences")
    return segmentation.lock_segment_group(group)


def change_url(obj):
    return reverse(f"admin:cdp_bridge_{obj._meta.model_name}_change", args=[obj.pk])


def test_a_group_is_created_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:cdp_bridge_segmentgroup_add"),
        {"identifier": "cdp_audiences", "name": "CDP audiences"},
    )
    assert response.status_code == 302
    assert SegmentGroup.objects.get().name == "CDP audiences"


def test_an_unlocked_group_can_be_renamed(admin_client):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    admin_client.post(change_url(group), {"identifier": "news", "name": "Newsletter"})
    group.refresh_from_db()
    assert group.name == "Newsletter"


def test_a_locked_group_is_shown_read_only_and_a_posted_change_is_refused(
    admin_client, locked_group
):
    page = admin_client.get(change_url(locked_group))
    assert page.status_code == 200
    assert b'name="name"' not in page.content  # no editable field
    response = admin_client.post(
        change_url(locked_group), {"identifier": "renamed", "name": "Renamed"}
    )
    assert "managed by the CDP alone" in response.content.decode()
    locked_group.refresh_from_db()
    assert (locked_group.identifier, locked_group.name) == ("cdp_audiences", "CDP audiences")


def test_deleting_a_locked_group_is_refused_with_the_reason(admin_client, locked_group):
    delete_url = reverse("admin:cdp_bridge_segmentgroup_delete", args=[locked_group.pk])
    response = admin_client.post(delete_url, {"post": "yes"}, follow=True)
    assert "managed by the CDP alone" in response.content.decode()
    assert SegmentGroup.objects.filter(pk=locked_group.pk).exists()


def test_an_unlocked_group_can_be_deleted(admin_client):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    delete_url = reverse("admin:cdp_bridge_segmentgroup_delete", args=[group.pk])
    admin_client.post(delete_url, {"post": "yes"})
    assert not SegmentGroup.objects.exists()


def test_the_bulk_delete_action_is_not_offered_for_groups(admin_client, locked_group):
    page = admin_client.get(reverse("admin:cdp_bridge_segmentgroup_changelist"))
    assert b"delete_selected" not in page.content


def test_segments_of_a_locked_group_are_view_only(admin_client, locked_group):
    segment = Segment.objects.create(group=locked_group, identifier="5d822e81", name="Cats")
    response = admin_client.post(
        change_url(segment), {"group": locked_group.pk, "identifier": "x", "name": "Dogs"}
    )
    assert response.status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Cats"
    delete_url = reverse("admin:cdp_bridge_segment_delete", args=[segment.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_locked_group_is_not_offered_when_adding_a_segment(admin_client, locked_group):
    response = admin_client.post(
        reverse("admin:cdp_bridge_segment_add"),
        {"group": locked_group.pk, "identifier": "x", "tags": "[]"},
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert not Segment.objects.exists()


def test_segment_list_shows_member_counts_in_a_constant_number_of_queries(admin_client):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    users = User.objects.bulk_create([User(username=f"u{i}") for i in range(6)])
    url = reverse("admin:cdp_bridge_segment_changelist")

    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            page = admin_client.get(url)
        return page, len(captured)

    segment = Segment.objects.create(group=group, identifier="s0")
    SegmentMembership.objects.bulk_create(SegmentMembership(segment=segment, user=u) for u in users)
    _, with_one = queries_for_page()
    for index in range(1, 6):
        Segment.objects.create(group=group, identifier=f"s{index}")
    page, with_six = queries_for_page()
    assert with_six == with_one
    assert page.context["cl"].result_list.get(identifier="s0").member_count == 6


def test_a_users_segments_are_found_by_username(admin_client, locked_group):
    alice = User.objects.create_user("alice")
    cats = Segment.objects.create(group=locked_group, identifier="cats", name="Cat owners")
    Segment.objects.create(group=locked_group, identifier="dogs", name="Dog owners")
    SegmentMembership.objects.create(segment=cats, user=alice)
    page = admin_client.get(reverse("admin:cdp_bridge_segment_changelist"), {"q": "alice"})
    assert [s.identifier for s in page.context["cl"].result_list] == ["cats"]
    page = admin_client.get(
        reverse("admin:cdp_bridge_segmentmembership_changelist"), {"q": "alice"}
    )
    assert [m.segment.identifier for m in page.context["cl"].result_list] == ["cats"]


def test_members_of_an_unlocked_segment_are_added_in_the_admin(admin_client):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    segment = Segment.objects.create(group=group, identifier="vip")
    alice = User.objects.create_user("alice")
    admin_client.post(
        reverse("admin:cdp_bridge_segmentmembership_add"), {"segment": segment.pk, "user": alice.pk}
    )
    assert segmentation.is_user_in_segment(alice, segment)
