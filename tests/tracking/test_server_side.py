"""track(): Raptor's server-side GET request, sent in the background after the commit."""

import base64
import logging
import threading

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import RequestFactory
from werkzeug import Response

from cdp_bridge import USER_AGENT, server_tracking
from cdp_bridge.server_tracking import BackgroundSender, track

ACCOUNT = 12345
COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"


@pytest.fixture
def raptor(httpserver, cdp_config):
    """Raptor's tracking endpoint on loopback, for account 12345; pass tracking keys to change."""

    def configure(**tracking):
        settings = {"server_url": httpserver.url_for("/t"), "user_id": "pk"} | tracking
        cdp_config(
            {"system": {"default": {"cdp": {"account_number": ACCOUNT, "tracking": settings}}}}
        )
        return httpserver

    return configure


def sent(httpserver):
    assert server_tracking.flush(timeout=10)
    return [request for request, _ in httpserver.log]


@pytest.mark.django_db
def test_an_event_is_one_get_request_with_the_visitors_ids(
    raptor, django_capture_on_commit_callbacks
):
    httpserver = raptor()
    httpserver.expect_request("/t/12345.rsa", method="GET").respond_with_data("")
    user = User.objects.create_user("ada")
    with django_capture_on_commit_callbacks(execute=True):
        queued = track(
            "buy",
            "lap-0007",
            user=user,
            cookie_id=COOKIE_ID,
            session_id="s-1",
            order_id="ord-9",
            quantity=2,
            price="899.00",
        )
    assert queued is True
    [request] = sent(httpserver)
    assert request.args.to_dict() == {
        "p1": "buy",
        "p2": "lap-0007",
        "p5": "2",
        "p7": str(user.pk),
        "p12": "899.00",
        "p21": "ord-9",
        "coid": COOKIE_ID,
        "sid": "s-1",
        "ruid": base64.b64encode(str(user.pk).encode()).decode(),  # Raptor: base64
    }
    assert request.headers["User-Agent"] == USER_AGENT


@pytest.mark.django_db
def test_the_visitor_can_come_from_the_request(raptor, django_capture_on_commit_callbacks):
    httpserver = raptor(user_id="none")
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    request = RequestFactory().get("/", HTTP_COOKIE=f"rsa={COOKIE_ID}")
    request.user = User.objects.create_user("ada")
    with django_capture_on_commit_callbacks(execute=True):
        track("visit", "lap-0007", request=request)
    [sent_request] = sent(httpserver)
    assert sent_request.args["coid"] == COOKIE_ID
    assert "ruid" not in sent_request.args
    assert "p7" not in sent_request.args


@pytest.mark.django_db
def test_track_returns_before_raptor_answers(raptor, django_capture_on_commit_callbacks):
    httpserver = raptor()
    arrived, answer = threading.Event(), threading.Event()

    def slow(request):
        arrived.set()
        answer.wait(10)
        return Response("")

    httpserver.expect_request("/t/12345.rsa").respond_with_handler(slow)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert track("visit", "lap-0007") is True
        assert arrived.wait(10)  # the request is on its way ...
        assert not answer.is_set()  # ... and track() has returned without its answer
    finally:
        answer.set()
    assert len(sent(httpserver)) == 1


@pytest.mark.django_db
def test_an_event_of_a_transaction_that_rolls_back_is_never_sent(
    raptor, django_capture_on_commit_callbacks
):
    httpserver = raptor()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        track("buy", "lap-0007", order_id="ord-9")
        raise RuntimeError("the payment was refused")
    assert callbacks == []
    assert sent(httpserver) == []


def test_nothing_is_sent_when_the_scope_does_not_track(httpserver, cdp_config):
    cdp_config(
        {"system": {"default": {"cdp": {"tracking": {"server_url": httpserver.url_for("/")}}}}}
    )
    assert track("visit", "lap-0007") is False  # no account number
    cdp_config(
        {"system": {"default": {"cdp": {"account_number": 1, "tracking": {"enabled": False}}}}}
    )
    assert track("visit", "lap-0007") is False
    assert sent(httpserver) == []


@pytest.mark.django_db
def test_a_failed_request_is_one_warning_without_the_visitors_ids(
    raptor, caplog, django_capture_on_commit_callbacks
):
    httpserver = raptor()
    httpserver.expect_request("/t/12345.rsa").respond_with_data("no", status=500)
    user = User.objects.create_user("ada")
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
        with django_capture_on_commit_callbacks(execute=True):
            track("visit", "lap-0007", user=user, cookie_id=COOKIE_ID)
        sent(httpserver)
    [record] = caplog.records
    assert "answered 500 to a 'visit' event" in record.getMessage()
    assert COOKIE_ID not in caplog.text
    assert base64.b64encode(str(user.pk).encode()).decode() not in caplog.text


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_a_warning_not_an_error(
    cdp_config, caplog, django_capture_on_commit_callbacks
):
    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": ACCOUNT,
                        "tracking": {"server_url": "http://127.0.0.1:9"},
                    }
                }
            }
        }
    )
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
        with django_capture_on_commit_callbacks(execute=True):
            assert track("visit", "lap-0007", cookie_id=COOKIE_ID) is True
        assert server_tracking.flush(timeout=10)
    assert "did not reach http://127.0.0.1:9/12345.rsa: ConnectionError" in caplog.text


def test_when_too_many_events_wait_new_ones_are_dropped_with_one_warning(httpserver, caplog):
    answer = threading.Event()
    httpserver.expect_request("/slow").respond_with_handler(
        lambda request: answer.wait(10) and Response("")
    )
    sender = BackgroundSender(workers=1, max_pending=1)
    url = httpserver.url_for("/slow")
    try:
        with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
            assert sender.submit(url, {"p1": "visit"}, "visit") is True
            assert sender.submit(url, {"p1": "visit"}, "visit") is False
            assert sender.submit(url, {"p1": "visit"}, "visit") is False
    finally:
        answer.set()
    assert sender.flush(timeout=10)
    [warning] = [record for record in caplog.records if record.name == "cdp_bridge.tracking"]
    assert "new events are dropped" in warning.getMessage()
    assert sender.submit(url, {"p1": "visit"}, "visit") is True  # room again
    assert sender.flush(timeout=10)


def test_an_unknown_event_is_refused_at_once(raptor):
    raptor()
    with pytest.raises(ValueError, match="Unknown tracking event 'order'"):
        track("order", "lap-0007")
