"""cache_page_by_segments: a cached page per set of segments, never a user's page for another."""

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from cdp_bridge import segmentation

pytestmark = pytest.mark.django_db

CAT_VISITOR = "11111111-566d-4ef0-9c22-186b2a5ed793"
OTHER_CAT_VISITOR = "22222222-566d-4ef0-9c22-186b2a5ed793"
NEW_VISITOR = "33333333-566d-4ef0-9c22-186b2a5ed793"


@pytest.fixture(autouse=True)
def membership_api(httpserver, cdp_config):
    cache.clear()
    cdp_config(
        {"system": {"default": {"cdp": {"membership": {"base_url": httpserver.url_for("/")}}}}}
    )
    for cookie in (CAT_VISITOR, OTHER_CAT_VISITOR):
        httpserver.expect_request(
            "/api/v3/memberships/coid", query_string={"identifierValue": cookie}
        ).respond_with_json({"memberships": [{"id": "cat-owners"}]})
    httpserver.expect_request("/api/v3/memberships/coid").respond_with_json({"memberships": []})
    yield
    cache.clear()


def visit(client, cookie_id):
    client.cookies["rsa"] = cookie_id
    return client.get("/cached-banner/")


def test_visitors_with_the_same_segments_share_one_cached_page(client):
    first = visit(client, CAT_VISITOR).content.decode()
    second = visit(client, OTHER_CAT_VISITOR).content.decode()
    assert first.startswith("cats")
    assert second == first  # the same render number: served from the cache


def test_visitors_with_other_segments_get_their_own_page(client):
    cats = visit(client, CAT_VISITOR).content.decode()
    everyone = visit(client, NEW_VISITOR).content.decode()
    assert everyone.startswith("everyone")
    assert visit(client, NEW_VISITOR).content.decode() == everyone
    assert visit(client, CAT_VISITOR).content.decode() == cats


def test_a_forged_segments_header_cannot_choose_a_cached_page(client):
    cats = visit(client, CAT_VISITOR).content.decode()
    client.cookies["rsa"] = NEW_VISITOR
    forged = client.get("/cached-banner/", HTTP_X_CDP_SEGMENTS="anything").content.decode()
    assert forged != cats
    assert forged.startswith("everyone")


def test_logged_in_users_always_get_a_fresh_page(client):
    group = segmentation.create_segment_group("audiences", "Audiences")
    user = User.objects.create_user("member")
    segmentation.assign_users_to_segment(segmentation.create_segment(group, "cat-owners"), [user])
    client.force_login(user)
    first = client.get("/cached-banner/").content.decode()
    second = client.get("/cached-banner/").content.decode()
    assert first.startswith("cats")
    assert first != second


def test_shared_caches_in_front_of_the_site_are_told_not_to_store_the_page(client):
    response = visit(client, CAT_VISITOR)
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]
    cached = visit(client, OTHER_CAT_VISITOR)
    assert "private" in cached["Cache-Control"]
