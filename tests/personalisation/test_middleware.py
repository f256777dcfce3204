"""SegmentsMiddleware: a lazy request.cdp_segments, for users and for anonymous visitors."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory

from cdp_bridge import segmentation
from cdp_bridge.middleware import SegmentsMiddleware

pytestmark = pytest.mark.django_db

COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def membership_api(httpserver, cdp_config):
    """The CDP's membership API on loopback, answering that COOKIE_ID is in one audience."""
    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "membership": {
                            "base_url": httpserver.url_for("/"),
                            "activation_id": "activation-1",
                            "api_key": "key-1",
                        }
                    }
                }
            }
        }
    )
    httpserver.expect_request(
        "/api/v3/memberships/coid", query_string={"identifierValue": COOKIE_ID}
    ).respond_with_json({"memberships": [{"id": "5d822e81", "name": "Cat owners"}]})
    return httpserver


def through_middleware(request, view):
    return SegmentsMiddleware(view)(request)


def test_a_page_that_does_not_ask_reads_no_segments(django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = User.objects.create_user("quiet")
    with django_assert_num_queries(0):
        response = through_middleware(request, lambda request: HttpResponse("hello"))
    assert not response.has_header("Vary")


def test_views_read_the_users_segments_from_the_request(client):
    group = segmentation.create_segment_group("audiences", "Audiences")
    user = User.objects.create_user("member")
    segmentation.assign_users_to_segment(segmentation.create_segment(group, "vip"), [user])
    client.force_login(user)
    assert client.get("/segments/").json() == {"segments": ["vip"]}


def test_an_anonymous_visitor_gets_the_segments_the_cdp_knows_for_their_cookie(
    client, membership_api
):
    client.cookies["rsa"] = COOKIE_ID
    assert client.get("/segments/").json() == {"segments": ["5d822e81"]}
    request, _ = membership_api.log[0]
    assert request.headers["X-ACTIVATION-ID"] == "activation-1"
    assert request.headers["X-API-KEY"] == "key-1"


def test_an_anonymous_visitor_without_a_cdp_cookie_costs_no_call(client, membership_api):
    assert client.get("/segments/").json() == {"segments": []}
    assert membership_api.log == []


def test_a_response_that_used_the_segments_varies_on_cookies(membership_api):
    request = RequestFactory().get("/", HTTP_COOKIE=f"rsa={COOKIE_ID}")
    request.user = AnonymousUser()

    def view(request):
        return HttpResponse("cats" if "5d822e81" in request.cdp_segments else "everyone")

    response = through_middleware(request, view)
    assert response.content == b"cats"
    assert response["Vary"] == "Cookie"
