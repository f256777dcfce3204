"""The CDP's audience API client: its request, its cache per cookie, pooled connections, and
failing open."""

import logging
import threading

import pytest
from django.core.cache import cache
from werkzeug import Response

from cdp_bridge import USER_AGENT, conf
from cdp_bridge.personalisation.audience_api import visitor_audiences
from tests.keep_alive_server import KeepAliveServer

COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"
API_KEY = "raptor-api-key-never-logged"
MEMBERSHIPS = {"memberships": [{"id": "5d822e81", "name": "Cat owners"}, {"id": 77, "name": "x"}]}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scope(httpserver, cdp_config):
    """The default scope, with the membership API on loopback; pass keys to override."""

    def configure(**membership):
        settings = {
            "base_url": httpserver.url_for("/cdp-api"),
            "activation_id": "activation-1",
            "api_key": API_KEY,
        }
        cdp_config({"system": {"default": {"cdp": {"membership": settings | membership}}}})
        return conf.get_scope()

    return configure


def expect_memberships(httpserver):
    return httpserver.expect_request(
        "/cdp-api/api/v3/memberships/coid",
        method="GET",
        query_string={"identifierValue": COOKIE_ID},
        headers={"X-ACTIVATION-ID": "activation-1", "X-API-KEY": API_KEY, "User-Agent": USER_AGENT},
    )


def test_the_visitors_audiences_are_asked_for_by_cookie_id(httpserver, scope):
    expect_memberships(httpserver).respond_with_json(MEMBERSHIPS)
    assert visitor_audiences(scope(), COOKIE_ID) == {"5d822e81", "77"}
    httpserver.check_assertions()


def test_answers_are_cached_per_cookie(httpserver, scope):
    expect_memberships(httpserver).respond_with_json(MEMBERSHIPS)
    httpserver.expect_request("/cdp-api/api/v3/memberships/coid").respond_with_json(
        {"memberships": []}
    )
    settings = scope()
    for _ in range(3):
        assert visitor_audiences(settings, COOKIE_ID) == {"5d822e81", "77"}
    assert visitor_audiences(settings, "another-visitor") == frozenset()
    assert visitor_audiences(settings, "another-visitor") == frozenset()
    assert len(httpserver.log) == 2  # one call per cookie


def test_a_cache_ttl_of_zero_asks_every_time(httpserver, scope):
    expect_memberships(httpserver).respond_with_json(MEMBERSHIPS)
    settings = scope(cache_ttl=0)
    visitor_audiences(settings, COOKIE_ID)
    visitor_audiences(settings, COOKIE_ID)
    assert len(httpserver.log) == 2


def test_a_visitor_the_cdp_does_not_know_has_no_segments_and_no_warning(httpserver, scope, caplog):
    expect_memberships(httpserver).respond_with_data("not found", status=404)
    assert visitor_audiences(scope(), COOKIE_ID) == frozenset()
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_without_a_base_url_or_a_cookie_nothing_is_asked(httpserver, cdp_config):
    cdp_config({})
    assert visitor_audiences(conf.get_scope(), COOKIE_ID) == frozenset()
    assert visitor_audiences(conf.get_scope(), None) == frozenset()
    assert visitor_audiences(conf.get_scope(), "x" * 500) == frozenset()
    assert httpserver.log == []


@pytest.mark.parametrize(
    "answer",
    [
        Response("<html>Bad gateway</html>", status=502),
        Response("{not json", status=200, content_type="application/json"),
        Response('["a", "list"]', status=200, content_type="application/json"),
        Response('{"memberships": [{"name": "no id"}]}', status=200),
        Response('{"memberships": "5d822e81"}', status=200),
    ],
    ids=["server-error", "not-json", "not-an-object", "no-ids", "not-a-list"],
)
def test_garbage_means_no_segments_and_one_warning(httpserver, scope, caplog, answer):
    expect_memberships(httpserver).respond_with_response(answer)
    settings = scope()
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.membership"):
        assert visitor_audiences(settings, COOKIE_ID) == frozenset()
        assert visitor_audiences(settings, COOKIE_ID) == frozenset()
        assert visitor_audiences(settings, "another-visitor") == frozenset()
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert "anonymous visitors have no segments" in warnings[0]
    assert len(httpserver.log) == 1  # the failing API is left alone for a while
    assert API_KEY not in caplog.text


NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    "</body>\r\n</html>\r\n"
    + "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
    * 6
)


def test_a_proxys_error_page_is_one_line_of_its_text_in_the_warning(httpserver, scope, caplog):
    expect_memberships(httpserver).respond_with_data(
        NGINX_502, status=502, content_type="text/html"
    )
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.membership"):
        assert visitor_audiences(scope(), COOKIE_ID) == frozenset()
    (warning,) = [record.getMessage() for record in caplog.records]
    assert "answered 502: 502 Bad Gateway nginx/1.25.3" in warning
    assert "<" not in warning and "\n" not in warning


def test_a_timeout_means_no_segments_and_one_warning(httpserver, scope, caplog):
    release = threading.Event()

    def slow(request):
        release.wait(5)
        return Response("{}", content_type="application/json")

    expect_memberships(httpserver).respond_with_handler(slow)
    settings = scope(timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="cdp_bridge.membership"):
            assert visitor_audiences(settings, COOKIE_ID) == frozenset()
            assert visitor_audiences(settings, COOKIE_ID) == frozenset()
    finally:
        release.set()
    assert len(caplog.records) == 1
    assert "no answer" in caplog.records[0].getMessage()
    assert API_KEY not in caplog.text
    assert COOKIE_ID not in caplog.text


def test_an_unreachable_api_means_no_segments_and_one_warning(scope, caplog):
    settings = scope(base_url="http://127.0.0.1:9")  # the discard port: nothing listens
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.membership"):
        assert visitor_audiences(settings, COOKIE_ID) == frozenset()
    assert "ConnectionError" in caplog.text
    assert API_KEY not in caplog.text


def test_visitors_are_asked_for_over_one_kept_open_connection(cdp_config):
    with KeepAliveServer(MEMBERSHIPS) as server:
        membership = {"base_url": server.url, "api_key": API_KEY, "cache_ttl": 0}
        cdp_config({"system": {"default": {"cdp": {"membership": membership}}}})
        scope = conf.get_scope()
        for visitor in ("visitor-1", "visitor-2", "visitor-3"):
            assert visitor_audiences(scope, visitor) == {"5d822e81", "77"}
    assert [path for path, _ in server.requests] == [
        f"/api/v3/memberships/coid?identifierValue=visitor-{n}" for n in (1, 2, 3)
    ]
    assert server.connections == 1
    assert {headers["User-Agent"] for _, headers in server.requests} == {USER_AGENT}


def test_each_thread_asks_over_a_connection_of_its_own(cdp_config):
    """requests' sessions are not thread-safe: two threads never share one, or its connections."""
    with KeepAliveServer(MEMBERSHIPS) as server:
        membership = {"base_url": server.url, "cache_ttl": 0}
        cdp_config({"system": {"default": {"cdp": {"membership": membership}}}})
        scope = conf.get_scope()
        answers = []
        for _ in range(2):  # one after the other: a shared connection would be free to reuse
            thread = threading.Thread(
                target=lambda: answers.extend(visitor_audiences(scope, "v") for _ in range(2))
            )
            thread.start()
            thread.join(10)
    assert answers == [{"5d822e81", "77"}] * 4
    assert server.connections == 2
