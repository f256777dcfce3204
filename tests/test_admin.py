"""The admin: groups and segments, read-only and undeletable once locked; counts without N+1."""

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdp_bridge import segmentation
from cdp_bridge.admin import SegmentGroupForm
from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership
from cdp_bridge.models.segments import cdp_writes

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_group():
    group = SegmentGroup.objects.create(identifier="cdp_audiences", name="CDP audiences")
    return segmentation.lock_segment_group(group)


def written_by_the_cdp(group, identifier, name="", members=()):
    """A segment of a locked group, with members, as the webhook's sync engine writes it."""
    with transaction.atomic(), cdp_writes():
        segment = Segment.objects.create(group=group, identifier=identifier, name=name)
        segment.members.add(*members)
    return segment


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


def test_a_change_racing_the_activations_first_connection_is_refused_with_403(
    admin_client, monkeypatch
):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    validate = SegmentGroupForm.clean

    def validate_while_the_cdp_connects(form):
        cleaned = validate(form)
        segmentation.lock_segment_group(SegmentGroup.objects.get(pk=group.pk))
        return cleaned

    monkeypatch.setattr(SegmentGroupForm, "clean", validate_while_the_cdp_connects)
    response = admin_client.post(change_url(group), {"identifier": "news", "name": "Renamed"})
    assert response.status_code == 403  # SegmentGroupLocked is Django's PermissionDenied
    assert SegmentGroup.objects.get().name == "News"


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
    segment = written_by_the_cdp(locked_group, "5d822e81", "Cats")
    response = admin_client.post(
        change_url(segment), {"group": locked_group.pk, "identifier": "x", "name": "Dogs"}
    )
    assert response.status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Cats"
    delete_url = reverse("admin:cdp_bridge_segment_delete", args=[segment.pk])
    assert delete_url not in admin_client.get(change_url(segment)).content.decode()
    response = admin_client.post(delete_url, {"post": "yes"}, follow=True)
    assert "managed by the CDP alone" in response.content.decode()
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
    written_by_the_cdp(locked_group, "cats", "Cat owners", [alice])
    written_by_the_cdp(locked_group, "dogs", "Dog owners")
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


def test_a_person_in_a_cdp_segment_is_deleted_through_the_admin(admin_client, locked_group):
    """An erasure request: the person goes, and their memberships with them."""
    alice = User.objects.create_user("alice")
    cats = written_by_the_cdp(locked_group, "cats", "Cat owners", [alice])
    delete_url = reverse("admin:auth_user_delete", args=[alice.pk])
    confirmation = admin_client.get(delete_url)
    assert confirmation.status_code == 200
    assert "<li>Segment memberships: 1</li>" in confirmation.content.decode()
    response = admin_client.post(delete_url, {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not SegmentMembership.objects.exists()
    assert Segment.objects.filter(pk=cats.pk).exists()


def test_people_in_cdp_segments_are_deleted_with_the_bulk_action(admin_client, locked_group):
    people = [User.objects.create_user(name) for name in ("alice", "bob")]
    written_by_the_cdp(locked_group, "cats", "Cat owners", people)
    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [u.pk for u in people], "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[u.pk for u in people]).exists()
    assert not SegmentMembership.objects.exists()


def test_a_membership_of_a_cdp_segment_is_not_removed_in_the_admin(admin_client, locked_group):
    alice = User.objects.create_user("alice")
    written_by_the_cdp(locked_group, "cats", "Cat owners", [alice])
    membership = SegmentMembership.objects.get()
    page = admin_client.get(change_url(membership))
    assert page.status_code == 200
    assert reverse("admin:cdp_bridge_segmentmembership_delete", args=[membership.pk]) not in (
        page.content.decode()
    )
    delete_url = reverse("admin:cdp_bridge_segmentmembership_delete", args=[membership.pk])
    response = admin_client.post(delete_url, {"post": "yes"}, follow=True)
    assert "managed by the CDP alone" in response.content.decode()
    assert SegmentMembership.objects.filter(pk=membership.pk).exists()


def test_a_member_of_an_unlocked_segment_is_removed_in_the_admin(admin_client):
    group = SegmentGroup.objects.create(identifier="news", name="News")
    segment = Segment.objects.create(group=group, identifier="vip")
    alice = User.objects.create_user("alice")
    segment.members.add(alice)
    membership = SegmentMembership.objects.get()
    delete_url = reverse("admin:cdp_bridge_segmentmembership_delete", args=[membership.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not segmentation.is_user_in_segment(alice, segment)
