"""SegmentsMiddleware: a lazy request.cdp_segments and an awaitable request.acdp_segments(),
for users and for anonymous visitors, under WSGI and ASGI."""

import asyncio
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory
from werkzeug import Response

from cdp_bridge import segmentation
from cdp_bridge.middleware import SegmentsMiddleware
from cdp_bridge.personalisation import asegments_for_request

pytestmark = pytest.mark.django_db

COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def audience_api(httpserver, cdp_config):
    """The CDP's audience API on loopback, answering that COOKIE_ID is in one audience."""
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


@pytest.fixture
def vip():
    """A user in the segment "vip"."""
    group = segmentation.create_segment_group("audiences", "Audiences")
    user = User.objects.create_user("member")
    segmentation.assign_users_to_segment(segmentation.create_segment(group, "vip"), [user])
    return user


def through_middleware(request, view):
    return SegmentsMiddleware(view)(request)


def test_a_page_that_does_not_ask_reads_no_segments(django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = User.objects.create_user("quiet")
    with django_assert_num_queries(0):
        response = through_middleware(request, lambda request: HttpResponse("hello"))
    assert not response.has_header("Vary")


def test_views_read_the_users_segments_from_the_request(client, vip):
    client.force_login(vip)
    assert client.get("/segments/").json() == {"segments": ["vip"]}


def test_an_anonymous_visitor_gets_the_segments_the_cdp_knows_for_their_cookie(
    client, audience_api
):
    client.cookies["rsa"] = COOKIE_ID
    assert client.get("/segments/").json() == {"segments": ["5d822e81"]}
    request, _ = audience_api.log[0]
    assert request.headers["X-ACTIVATION-ID"] == "activation-1"
    assert request.headers["X-API-KEY"] == "key-1"


def test_an_anonymous_visitor_without_a_cdp_cookie_costs_no_call(client, audience_api):
    assert client.get("/segments/").json() == {"segments": []}
    assert audience_api.log == []


def test_a_response_that_used_the_segments_varies_on_cookies(audience_api):
    request = RequestFactory().get("/", HTTP_COOKIE=f"rsa={COOKIE_ID}")
    request.user = AnonymousUser()

    def view(request):
        return HttpResponse("cats" if "5d822e81" in request.cdp_segments else "everyone")

    response = through_middleware(request, view)
    assert response.content == b"cats"
    assert response["Vary"] == "Cookie"


# -- async views, under ASGI -----------------------------------------------------------------------


def test_an_async_view_awaits_a_users_segments_and_its_template_reads_them_again(async_client, vip):
    async_client.force_login(vip)
    response = async_to_sync(async_client.get)("/async-segments/")
    # Had the template loaded the segments itself, inside the event loop, Django would have
    # raised SynchronousOnlyOperation: it reads the ones the view awaited.
    assert response.content.decode().strip() == "segments: vip; banner: known; awaited: 1"
    assert response["Vary"] == "Cookie"


def test_an_async_view_awaits_an_anonymous_visitors_segments_from_the_cdp(
    async_client, audience_api
):
    async_client.cookies["rsa"] = COOKIE_ID
    response = async_to_sync(async_client.get)("/async-segments/")
    assert response.content.decode().strip() == "segments: 5d822e81; banner: known; awaited: 1"
    assert len(audience_api.log) == 1  # awaited once, read again from the request
    assert response["Vary"] == "Cookie"


def test_an_async_view_of_a_visitor_in_no_segment(async_client, audience_api):
    response = async_to_sync(async_client.get)("/async-segments/")
    assert response.content.decode().strip() == "segments: ; banner: unknown; awaited: 0"
    assert audience_api.log == []


def test_an_async_stack_runs_the_middleware_without_a_thread(async_client, settings, caplog):
    settings.DEBUG = True  # Django logs each middleware it has to adapt, under DEBUG
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        response = async_to_sync(async_client.get)("/async-segments/")
    assert response.status_code == 200
    adapted = [record.getMessage() for record in caplog.records if "adapted" in record.getMessage()]
    assert not [message for message in adapted if "SegmentsMiddleware" in message], adapted


def test_async_code_without_the_middleware_can_await_the_segments(vip):
    request = RequestFactory().get("/")
    request.user = vip
    segments = async_to_sync(asegments_for_request)(request)
    assert list(segments) == ["vip"]
    assert request.cdp_segments.identifiers == {"vip"}  # the same load, for sync code


def test_while_the_audience_api_answers_the_event_loop_serves_others(httpserver, cdp_config):
    arrived, release = threading.Event(), threading.Event()

    def slow(request):
        arrived.set()
        release.wait(3)
        return Response('{"memberships": [{"id": "5d822e81"}]}', content_type="application/json")

    httpserver.expect_request("/api/v3/memberships/coid").respond_with_handler(slow)
    base_url = httpserver.url_for("/")
    membership = {"base_url": base_url, "timeout": 1}  # a blocked loop would let it time out
    cdp_config({"system": {"default": {"cdp": {"membership": membership}}}})
    request = RequestFactory().get("/", HTTP_COOKIE=f"rsa={COOKIE_ID}")
    request.user = AnonymousUser()

    async def another_request():
        # Runs only if the event loop is free while the API is being asked; it lets it answer.
        for _ in range(500):
            if arrived.is_set():
                release.set()
                return
            await asyncio.sleep(0.01)

    async def both():
        segments, _ = await asyncio.gather(asegments_for_request(request), another_request())
        return segments

    try:
        assert set(async_to_sync(both)()) == {"5d822e81"}
    finally:
        release.set()
