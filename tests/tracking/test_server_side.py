"""track(): Raptor's server-side GET request, sent in the background after the commit."""

import base64
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import transaction
from django.test import RequestFactory
from werkzeug import Response

from cdp_bridge import USER_AGENT
from cdp_bridge.tracking import flush, track
from tests.keep_alive_server import KeepAliveServer

ACCOUNT = 12345
COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"


@pytest.fixture
def configure_tracking(cdp_config):
    """Track for account 12345, sending to ``server_url``; pass tracking keys to change."""

    def configure(server_url, **tracking):
        settings = {"server_url": server_url, "user_id": "pk"} | tracking
        cdp_config(
            {"system": {"default": {"cdp": {"account_number": ACCOUNT, "tracking": settings}}}}
        )

    return configure


@pytest.fixture
def raptor(httpserver, configure_tracking):
    """Raptor's tracking endpoint on loopback, for account 12345; pass tracking keys to change."""

    def configure(**tracking):
        configure_tracking(httpserver.url_for("/t"), **tracking)
        return httpserver

    return configure


def sent(httpserver):
    assert flush(timeout=10)
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
            consented=True,
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
@pytest.mark.parametrize(("field_name", "mode"), [("email", "hashed"), ("last_login", "pk")])
def test_a_user_without_a_person_identifier_is_sent_without_a_user_id(
    httpserver, cdp_config, django_capture_on_commit_callbacks, field_name, mode
):
    """The user's person identifier is empty (email) or NULL (last_login): no ruid, no p7."""
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    activation = {
        "client_id": "raptor",
        "client_secret": "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5",
        "segment_group_identifier": "cdp",
        "person_identifier_field": field_name,
    }
    tracking = {"server_url": httpserver.url_for("/t"), "user_id": mode}
    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": ACCOUNT,
                        "tracking": tracking,
                        "activations": [activation],
                    }
                }
            }
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        track("visit", "lap-0007", user=User.objects.create_user("ada"), consented=True)
    [sent_request] = sent(httpserver)
    assert "ruid" not in sent_request.args
    assert "p7" not in sent_request.args


@pytest.mark.django_db
def test_the_visitor_can_come_from_the_request(raptor, django_capture_on_commit_callbacks):
    httpserver = raptor(user_id="none")
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    request = RequestFactory().get("/", HTTP_COOKIE=f"rsa={COOKIE_ID}")
    request.user = User.objects.create_user("ada")
    with django_capture_on_commit_callbacks(execute=True):
        track("visit", "lap-0007", request=request, consented=True)
    [sent_request] = sent(httpserver)
    assert sent_request.args["coid"] == COOKIE_ID
    assert "ruid" not in sent_request.args
    assert "p7" not in sent_request.args


@pytest.mark.django_db
def test_without_the_visitors_consent_nothing_is_sent(raptor, django_capture_on_commit_callbacks):
    httpserver = raptor()  # consent_required: true, the default
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert track("visit", "lap-0007", cookie_id=COOKIE_ID) is False
        assert track("visit", "lap-0007", cookie_id=COOKIE_ID, consented=False) is False
    assert callbacks == []
    assert sent(httpserver) == []


@pytest.mark.django_db
def test_where_consent_is_not_required_events_are_sent_without_it(
    raptor, django_capture_on_commit_callbacks
):
    httpserver = raptor(consent_required=False)
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    with django_capture_on_commit_callbacks(execute=True):
        assert track("visit", "lap-0007") is True
    assert len(sent(httpserver)) == 1


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
            assert track("visit", "lap-0007", consented=True) is True
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
        track("buy", "lap-0007", order_id="ord-9", consented=True)
        raise RuntimeError("the payment was refused")
    assert callbacks == []
    assert sent(httpserver) == []


def test_outside_a_transaction_an_event_needs_no_database(raptor):
    # No django_db mark: pytest-django refuses any database access in this test.
    httpserver = raptor()
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")
    assert track("visit", "lap-0007", consented=True) is True
    assert len(sent(httpserver)) == 1


def test_async_code_can_track(raptor):
    httpserver = raptor()
    httpserver.expect_request("/t/12345.rsa").respond_with_data("")

    async def view_code():
        return track("visit", "lap-0007", cookie_id=COOKIE_ID, consented=True)

    assert async_to_sync(view_code)() is True  # no SynchronousOnlyOperation
    [request] = sent(httpserver)
    assert request.args["coid"] == COOKIE_ID


def test_nothing_is_sent_when_the_scope_does_not_track(httpserver, cdp_config):
    cdp_config(
        {"system": {"default": {"cdp": {"tracking": {"server_url": httpserver.url_for("/")}}}}}
    )
    assert track("visit", "lap-0007", consented=True) is False  # no account number
    cdp_config(
        {"system": {"default": {"cdp": {"account_number": 1, "tracking": {"enabled": False}}}}}
    )
    assert track("visit", "lap-0007", consented=True) is False
    assert sent(httpserver) == []


def test_events_reuse_the_senders_connections(configure_tracking):
    with KeepAliveServer() as server:
        configure_tracking(f"{server.url}/t")
        for number in range(10):
            assert track("buy", f"sku-{number}", consented=True) is True
        assert flush(timeout=10)
    assert len(server.requests) == 10
    assert server.connections <= 2  # one per sending thread, not one per event
    assert {headers["User-Agent"] for _, headers in server.requests} == {USER_AGENT}


@pytest.mark.django_db
def test_a_failed_request_is_one_warning_without_the_visitors_ids(
    raptor, caplog, django_capture_on_commit_callbacks
):
    httpserver = raptor()
    httpserver.expect_request("/t/12345.rsa").respond_with_data("no", status=500)
    user = User.objects.create_user("ada")
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
        with django_capture_on_commit_callbacks(execute=True):
            track("visit", "lap-0007", user=user, cookie_id=COOKIE_ID, consented=True)
        sent(httpserver)
    [record] = caplog.records
    assert "answered 500 to a 'visit' event" in record.getMessage()
    assert COOKIE_ID not in caplog.text
    assert base64.b64encode(str(user.pk).encode()).decode() not in caplog.text


def test_an_unreachable_endpoint_is_a_warning_not_an_error(configure_tracking, caplog):
    configure_tracking("http://127.0.0.1:9")  # the discard port: nothing listens
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
        assert track("visit", "lap-0007", cookie_id=COOKIE_ID, consented=True) is True
        assert flush(timeout=10)
    assert "did not reach http://127.0.0.1:9/12345.rsa: ConnectionError" in caplog.text
    assert COOKIE_ID not in caplog.text


def test_an_unknown_event_is_refused_at_once_with_or_without_consent(raptor):
    raptor()
    with pytest.raises(ValueError, match="Unknown tracking event 'order'"):
        track("order", "lap-0007")
    with pytest.raises(ValueError, match="Unknown tracking event 'order'"):
        track("order", "lap-0007", consented=True)
