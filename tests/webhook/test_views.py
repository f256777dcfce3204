"""The webhook endpoint through the test client: each row of the response table in the docs."""

import gzip
import hashlib
import json
import logging
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import OperationalError, close_old_connections
from django.test import RequestFactory

from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership, WebhookDelivery

from ..conftest import GOOD_SECRET
from .conftest import (
    ACTIVATION,
    CLIENT_ID,
    GROUP,
    WEBHOOK,
    ContractClient,
    audience,
    basic,
    delivery,
    ids,
    members,
    post,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/cdp/webhook/token"


def error_of(response):
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


# -- 200 -------------------------------------------------------------------------------------------


def body_hash(body):
    """The delivery id a body sent without X-CDP-Delivery-Id is answered with."""
    return f"sha256:{hashlib.sha256(json.dumps(body).encode()).hexdigest()}"


def test_a_full_audience_becomes_a_segment_with_its_members_and_metadata(client, group, users):
    body = delivery(
        audience(
            description="Bought cat food twice in 90 days",
            tags=["pets"],
            profile_count=15230,
            updated_at="2026-11-20T10:00:00Z",
            sequence=17,
            members=[*ids(users[:3]), "999999"],
        )
    )
    response = post(client, body)
    assert response.status_code == 200
    segment = Segment.objects.get(group=group, identifier="5d822e81")
    assert response.json() == {
        "status": "applied",
        "delivery_id": body_hash(body),
        "audiences": [
            {
                "id": "5d822e81",
                "segment": segment.pk,
                "status": "applied",
                "added": 3,
                "removed": 0,
                "unknown_members": 1,
            }
        ],
        "removed_audiences": [],
    }
    assert members("5d822e81") == {"user0", "user1", "user2"}
    assert (segment.name, segment.description, segment.tags) == (
        "Cat owners",
        "Bought cat food twice in 90 days",
        ["pets"],
    )
    assert (segment.profile_count, segment.sequence) == (15230, 17)
    assert segment.cdp_updated_at.isoformat() == "2026-11-20T10:00:00+00:00"


def test_a_resent_delivery_id_is_answered_as_a_duplicate_and_changes_nothing(client, group, users):
    first = post(client, delivery(audience(members=ids(users[:2]))), HTTP_X_CDP_DELIVERY_ID="d-1")
    post(client, delivery(audience(members=ids(users[5:6]))))  # the CDP moved on meanwhile
    again = post(client, delivery(audience(members=ids(users[:2]))), HTTP_X_CDP_DELIVERY_ID="d-1")
    assert first.json()["delivery_id"] == "d-1"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["original_status"] == "applied"
    assert members("5d822e81") == {"user5"}
    stored = WebhookDelivery.objects.filter(delivery_id="d-1").order_by("pk")
    assert [d.status for d in stored] == ["applied", "duplicate"]
    assert stored[1].duplicate_of == stored[0]


def test_without_a_delivery_id_the_same_body_is_a_duplicate(client, group, users):
    body = delivery(audience(sync="delta", added=ids(users[:1])))
    post(client, body)
    post(client, delivery(audience(sync="delta", removed=ids(users[:1]))))
    again = post(client, body)
    assert again.json()["status"] == "duplicate"
    assert members("5d822e81") == set()


def test_a_gzip_body_is_accepted(client, group, users):
    response = post(client, delivery(audience(members=ids(users[:4]))), compress=True)
    assert response.status_code == 200
    assert members("5d822e81") == {"user0", "user1", "user2", "user3"}


def test_the_first_authenticated_delivery_locks_the_segment_group(client, group, users):
    assert not group.is_locked
    post(client, delivery(audience(members=ids(users[:1]))))
    group.refresh_from_db()
    assert group.is_locked


# -- 202 -------------------------------------------------------------------------------------------


def test_a_delivery_touching_the_threshold_is_stored_queued_and_answered_202(
    client, group, users, configure
):
    configure(bulk_async_threshold=5)
    body = delivery(audience(members=ids(users[:5])))
    response = post(client, body)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery_id": body_hash(body)}
    queued = WebhookDelivery.objects.get()
    assert (queued.status, queued.member_count) == ("queued", 5)
    assert not Segment.objects.exists()  # applied later, by the queue
    group.refresh_from_db()
    assert group.is_locked


def test_a_thirty_megabyte_array_of_ids_is_queued_not_refused(client, group):
    members_30mb = [str(10**9 + index) for index in range(2_200_000)]
    body = json.dumps(delivery(audience(members=members_30mb))).encode()
    assert len(body) > 30_000_000
    response = post(client, body)
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().member_count == 2_200_000


# -- 400 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"segment_group_identifier": ', "The body is not JSON: Expecting value at line 1"),
        (b"   ", "The body is not JSON: Expecting value"),
        (b'{"a": NaN}', "The body is not usable JSON: NaN is not a JSON number"),
        (b'{"a": "\xff"}', "The body is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "The body is not usable JSON"),
    ],
)
def test_a_body_that_is_not_json_is_400_invalid_json(client, group, body, message):
    error = error_of(post(client, body))
    assert error["code"] == "invalid_json"
    assert error["message"].startswith(message)


def test_a_corrupt_gzip_body_is_400(client, group):
    compressed = gzip.compress(json.dumps(delivery()).encode())
    for corrupt in (b"not gzip at all", compressed[:-12], compressed[:10] + b"x" * 20):
        response = post(client, corrupt, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400
        assert "not valid gzip" in error_of(response)["message"]


def test_every_problem_of_a_payload_is_reported_with_its_path(client, group):
    response = post(
        client,
        {
            "segment_group_identifier": GROUP,
            "audiences": [
                audience(members=["1", 2, 3.5, True, None, {"id": 1}]),
                audience("77aa01", sync="delta", added=["31", 10], removed=["10"]),
                {"id": "x", "members": []},
                audience("5d822e81", snapshot={"id": "s", "part": 4, "parts": 3}),
                audience("90ff12", sync="delta", members=[]),
            ],
            "removed_audiences": ["77aa01", 5, ""],
        },
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_payload"
    problems = {(item["path"], item["message"]) for item in error["details"]}
    assert problems >= {
        (
            "/audiences/0/members/2",
            "A person identifier must be a string or an integer, not a decimal number.",
        ),
        (
            "/audiences/0/members/3",
            "A person identifier must be a string or an integer, not a boolean.",
        ),
        ("/audiences/0/members/4", "A person identifier must be a string or an integer, not null."),
        (
            "/audiences/0/members/5",
            "A person identifier must be a string or an integer, not an object.",
        ),
        ("/audiences/1/removed/0", "Also in added: a delta cannot both add and remove one person."),
        ("/audiences/2/sync", "This field is required."),
        ("/audiences/3/snapshot/part", "Part 4 of 3 parts does not exist."),
        ("/audiences/4/members", "A delta audience has added and removed, not members."),
        ("/removed_audiences/2", "This field may not be blank."),
    }
    assert not Segment.objects.exists()


def test_duplicate_audiences_and_an_audience_both_updated_and_removed_are_refused(client, group):
    error = error_of(
        post(
            client,
            delivery(audience("a"), audience("b"), audience("a"), removed_audiences=["b"]),
        )
    )
    assert {item["path"] for item in error["details"]} == {
        "/audiences/2/id",
        "/removed_audiences/0",
    }


def test_a_body_that_is_not_an_object_is_reported_at_the_root(client, group):
    error = error_of(post(client, b"[1, 2]"))
    assert error["details"] == [
        {"path": "", "message": "Invalid data. Expected a dictionary, but got list."}
    ]


def test_text_that_no_database_can_store_is_refused_not_a_500(client, group):
    body = (
        b'{"segment_group_identifier": "cdp_audiences", "audiences": [{"id": "a\\u0000", '
        b'"sync": "full", "members": ["\\ud800"]}]}'
    )
    error = error_of(post(client, body))
    assert error["code"] == "invalid_payload"
    assert {item["path"] for item in error["details"]} == {
        "/audiences/0/id",
        "/audiences/0/members/0",
    }


def test_a_key_no_database_can_store_is_refused_with_its_path_escaped(client, group):
    """The key's path is written with escapes, so that the answer can be rendered and the
    refusal stored (PostgreSQL's jsonb refuses NUL and unpaired surrogates too)."""
    body = b'{"\\ud800": 1, "segment_group_identifier": "cdp_audiences", "extra": {"a\\u0000b": 2}}'
    response = post(client, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_payload"
    assert [item["path"] for item in error["details"]] == ["/\\ud800", "/extra/a\\u0000b"]
    rejected = WebhookDelivery.objects.get()
    assert rejected.status == "rejected"
    assert rejected.result == {"code": "invalid_payload", "details": error["details"]}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("sequence", "17"),
        ("sequence", 18.0),
        ("sequence", True),
        ("profile_count", "15230"),
        ("snapshot", {"id": "s", "part": "1", "parts": 1}),
        ("snapshot", {"id": "s", "part": 1, "parts": 2.0}),
    ],
)
def test_an_integer_field_takes_a_json_integer_only(client, group, where, value):
    response = post(client, delivery(audience(**{where: value})))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_payload"
    [problem] = error["details"]
    assert problem["path"].startswith(f"/audiences/0/{where}")
    assert problem["message"].startswith("Expected an integer, not ")
    assert not Segment.objects.exists()


def test_refused_deliveries_are_kept_for_the_admin_with_their_error(client, group):
    post(client, b"{oops", HTTP_X_CDP_DELIVERY_ID="bad-1")
    rejected = WebhookDelivery.objects.get()
    assert (rejected.status, rejected.delivery_id, rejected.body) == ("rejected", "bad-1", "{oops")
    assert rejected.error.startswith("The body is not JSON")
    assert rejected.result["code"] == "invalid_json"


# -- 401 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(secret="wrong-secret-wrong-secret"),
        basic(client_id="someone-else"),
        "Basic not-base64!",
        "Basic " + "b25seS1hbi1pZA==",  # "only-an-id": no colon
        "Bearer not-a-token",
        "Digest username=x",
    ],
)
def test_a_request_without_valid_credentials_is_401_with_a_challenge(client, group, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(
        WEBHOOK, json.dumps(delivery()), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"] == (
        'Basic realm="cdp-webhook", charset="UTF-8", Bearer realm="cdp-webhook"'
    )
    assert not WebhookDelivery.objects.exists()


def test_failed_authentication_is_logged_without_the_secret(client, group, caplog):
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.webhook"):
        post(client, delivery(), auth=basic(secret="wrong-but-secret-value-123"))
    assert "Webhook authentication failed from 127.0.0.1 for client id 'raptor-activation'" in (
        caplog.text
    )
    assert "wrong-but-secret-value-123" not in caplog.text


# -- 403, 405, 409 ---------------------------------------------------------------------------------


def test_a_delivery_for_another_group_is_403(client, group):
    SegmentGroup.objects.create(identifier="other_group", name="Other")
    response = post(client, {**delivery(audience()), "segment_group_identifier": "other_group"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "segment_group_mismatch"
    assert not Segment.objects.exists()
    assert WebhookDelivery.objects.get().status == "rejected"


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_any_method_but_post_is_405(client, group, method):
    response = getattr(client, method)(WEBHOOK, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "POST, HEAD"


def test_a_wrong_method_is_405_even_without_credentials(client, group):
    assert client.get(WEBHOOK).status_code == 405


def test_head_answers_200_with_no_body_for_valid_credentials(client, group):
    response = client.head(WEBHOOK, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 200
    assert response.content == b""
    assert client.head(WEBHOOK, HTTP_AUTHORIZATION=basic(secret="x" * 20)).status_code == 401


def test_a_group_not_created_yet_is_409(client, configure, db):
    response = post(client, delivery(audience()))
    assert response.status_code == 409
    assert error_of(response)["code"] == "segment_group_not_found"
    assert "create it in the admin" in error_of(response)["message"]


# -- 413, 415 --------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(client, group, configure):
    configure(webhook={"max_body_bytes": 2048})
    response = post(client, json.dumps(delivery(audience(members=["1"] * 1000))).encode())
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_small_gzip_body_that_decompresses_over_the_limit_is_413(client, group, configure):
    configure(webhook={"max_body_bytes": 64 * 1024})
    bomb = json.dumps(delivery(audience(members=["1"] * 1_000_000))).encode()
    response = post(client, bomb, compress=True)
    assert len(gzip.compress(bomb)) < 64 * 1024
    assert response.status_code == 413
    assert "decompressed body" in error_of(response)["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"content_type": "text/plain"},
        {"content_type": "application/x-www-form-urlencoded"},
        {"content_type": "application/json", "HTTP_CONTENT_ENCODING": "br"},
    ],
)
def test_a_body_that_is_not_json_or_gzip_is_415(client, group, headers):
    response = post(client, delivery(), **headers)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_json_with_a_charset_is_json(client, group):
    response = post(client, delivery(), content_type="application/json; charset=utf-8")
    assert response.status_code == 200


# -- 503, 500 --------------------------------------------------------------------------------------


def test_an_unavailable_database_is_503_with_retry_after_and_nothing_written(
    client, group, users, monkeypatch
):
    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("cdp_bridge.webhook.writers.OrmMembershipWriter.replace", database_gone)
    monkeypatch.setattr(
        "cdp_bridge.webhook.writers.PostgresMembershipWriter.replace", database_gone
    )
    response = post(client, delivery(audience("a", members=ids(users)), audience("b")))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert error_of(response)["code"] == "unavailable"
    assert not Segment.objects.exists()
    assert not SegmentMembership.objects.exists()
    group.refresh_from_db()
    assert not group.is_locked


def test_an_unavailable_database_is_logged_as_a_warning_not_an_error(
    client, group, users, monkeypatch, caplog
):
    """A 503 is the site's outage, not a bug: no ERROR record, so no mail to the ADMINS."""

    def database_gone(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr("cdp_bridge.webhook.receiving.receive", database_gone)
    monkeypatch.setattr("cdp_bridge.webhook.views.authenticate_client", database_gone)
    with caplog.at_level(logging.DEBUG):
        answers = [
            post(client, delivery(audience(members=ids(users)))),
            client.post(
                TOKEN_URL,
                "grant_type=client_credentials",
                content_type="application/x-www-form-urlencoded",
                HTTP_AUTHORIZATION=basic(),
            ),
        ]
    assert [answer.status_code for answer in answers] == [503, 503]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert {r.getMessage() for r in caplog.records if r.name == "django.request"} == {
        f"Service Unavailable: {WEBHOOK}",
        f"Service Unavailable: {TOKEN_URL}",
    }


@pytest.fixture
def reported(caplog):
    """The exceptions Django's ``got_request_exception`` reported, as Sentry would see them."""
    seen = []

    def receiver(sender, request, **kwargs):
        seen.append((request.path, sys.exc_info()[1]))

    got_request_exception.connect(receiver)
    caplog.set_level(logging.ERROR, logger="django.request")
    yield seen
    got_request_exception.disconnect(receiver)


def test_a_bug_is_a_json_500_reported_to_the_site_without_a_traceback(
    answering_client, group, users, monkeypatch, reported, caplog
):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("cdp_bridge.webhook.sync.membership_writer", bug)
    response = post(answering_client, delivery(audience(members=ids(users))))
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert error_of(response)["code"] == "internal_error"
    assert "Traceback" not in response.content.decode()
    assert "ZeroDivisionError" not in response.content.decode()
    assert [(path, type(error)) for path, error in reported] == [(WEBHOOK, ZeroDivisionError)]
    [logged] = [record for record in caplog.records if record.name == "django.request"]
    assert logged.getMessage() == f"Internal Server Error: {WEBHOOK}"
    assert logged.exc_info[0] is ZeroDivisionError
    failed = WebhookDelivery.objects.get()
    assert (failed.status, failed.error) == ("failed", "ZeroDivisionError: division by zero")
    assert not Segment.objects.exists()


def test_every_answer_is_json_whatever_the_client_accepts(client, group):
    response = post(client, b"{", HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_no_csrf_token_is_needed(group):
    strict = ContractClient(enforce_csrf_checks=True)
    assert post(strict, delivery()).status_code == 200


def test_everything_the_cdp_sends_is_logged_at_debug_without_credentials(client, group, caplog):
    with caplog.at_level(logging.DEBUG, logger="cdp_bridge.webhook"):
        post(client, delivery(audience("logged-audience")), HTTP_X_CDP_DELIVERY_ID="d-42")
    assert f"Webhook delivery from client id {CLIENT_ID!r}" in caplog.text
    assert "logged-audience" in caplog.text
    assert "d-42" in caplog.text
    assert GOOD_SECRET not in caplog.text
    assert basic().split()[1] not in caplog.text


def test_a_client_id_configured_in_two_scopes_is_a_check_error_and_a_reported_500(
    answering_client, group, settings, reported
):
    from cdp_bridge.checks import check_settings

    other = {**ACTIVATION, "segment_group_identifier": "elsewhere"}
    settings.CDP_BRIDGE = {
        "scopes": {"shop_de": {"hosts": ["de.shop.example"]}},
        "system": {
            "default": {"cdp": {"activations": [ACTIVATION]}},
            "shop_de": {"cdp": {"activations": [other]}},
        },
    }
    assert "cdp_bridge.E007" in {message.id for message in check_settings()}
    response = post(answering_client, delivery(audience()))
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert [type(error).__name__ for _, error in reported] == ["ConfigurationError"]


# -- defects found by attacking the webhook from outside -------------------------------------------


def test_a_delivery_id_shaped_like_a_body_hash_does_not_make_that_body_a_duplicate(
    client, group, users
):
    body = json.dumps(delivery(audience(members=ids(users[:2])))).encode()
    spoof = f"sha256:{hashlib.sha256(body).hexdigest()}"
    first = post(client, delivery(audience("other")), HTTP_X_CDP_DELIVERY_ID=spoof)
    assert first.json()["status"] == "applied"
    response = post(client, body)
    assert response.json()["status"] == "applied"
    assert members("5d822e81") == {"user0", "user1"}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"segment_group_identifier": 5}, "/segment_group_identifier"),
        (delivery(audience(5)), "/audiences/0/id"),
        (delivery(audience(name=7)), "/audiences/0/name"),
        (delivery(audience(description=1.5)), "/audiences/0/description"),
        (delivery(audience(tags=["pets", 3])), "/audiences/0/tags/1"),
        (delivery(audience(snapshot={"id": 9, "part": 1, "parts": 2})), "/audiences/0/snapshot/id"),
        (delivery(removed_audiences=["a", 12]), "/removed_audiences/1"),
    ],
)
def test_a_number_where_the_contract_says_string_is_400_with_its_path(client, group, body, path):
    response = post(client, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_payload"
    assert [item["path"] for item in error["details"]] == [path]
    assert error["details"][0]["message"].startswith("Expected a string, not ")
    assert not Segment.objects.exists()


def test_a_gzip_body_of_several_members_is_read_whole(client, group, users):
    body = json.dumps(delivery(audience(members=ids(users[:6])))).encode()
    members_of_gzip = (
        gzip.compress(body[:40]) + gzip.compress(body[40:90]) + gzip.compress(body[90:])
    )
    response = post(client, members_of_gzip, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert members("5d822e81") == {f"user{index}" for index in range(6)}


def test_gzip_members_together_over_the_limit_are_413(client, group, configure):
    configure(webhook={"max_body_bytes": 64 * 1024})
    body = json.dumps(delivery(audience(members=["1"] * 10_000))).encode()  # 50 KiB each
    response = post(client, gzip.compress(body) + gzip.compress(body), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert "decompressed body" in error_of(response)["message"]


def test_data_after_the_last_gzip_member_is_400(client, group):
    body = gzip.compress(json.dumps(delivery()).encode()) + b"trailing garbage"
    response = post(client, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert "not valid gzip" in error_of(response)["message"]


def wsgi_answer(environ):
    """What the site itself sends for a request, before any server tidies it up."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    request_started.disconnect(close_old_connections)  # keep the test's transaction open
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(WSGIHandler()(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started["status"], started["headers"], content


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(basic(), "200 OK"), (basic(secret="x" * 20), "401 Unauthorized"), (None, "401 Unauthorized")],
)
def test_a_head_answer_carries_no_body(group, authorization, status):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    environ = RequestFactory().head(WEBHOOK, **headers).environ
    answered, sent_headers, content = wsgi_answer(environ)
    assert (answered, content) == (status, b"")
    if status.startswith("401"):
        assert sent_headers["WWW-Authenticate"].startswith("Basic")


def test_a_head_to_the_token_endpoint_is_405_without_a_body(group):
    answered, sent_headers, content = wsgi_answer(RequestFactory().head(TOKEN_URL).environ)
    assert (answered, content) == ("405 Method Not Allowed", b"")
    assert sent_headers["Allow"] == "POST"
