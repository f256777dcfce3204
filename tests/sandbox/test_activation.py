"""Activations from the sandbox to the real webhook of a live Django server, over loopback HTTP.

The sandbox is the reference sender of the webhook protocol: full then delta, snapshot parts,
removals, retries, OAuth2 tokens and signatures, each checked against what the site then holds.
"""

import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import OperationalError

from cdp_bridge.models import Segment, SegmentGroup, WebhookDelivery
from cdp_bridge.sandbox.activation import ActivationFailed
from cdp_bridge.webhook import receiving

from ..webhook.conftest import GROUP, SIGNING_SECRET, configuration
from .conftest import SOURCES

pytestmark = pytest.mark.django_db(transaction=True)

LOGINS = {"have": "login", "in": ["user0", "user1", "user2"]}
EARLY = {"id": "early-users", "name": "Early users", "tags": ["test"], "all": [LOGINS]}


@pytest.fixture
def customers(db):
    return [User.objects.create_user(f"user{n}") for n in range(6)]


@pytest.fixture
def webhook(live_server):
    SegmentGroup.objects.create(identifier=GROUP, name="CDP audiences")
    return f"{live_server.url}/cdp/webhook"


@pytest.fixture
def exported(site, customers):
    call_command("stream_user_data", "--no-draft", "-v", "0")
    return site


def segment_members(identifier):
    segment = Segment.objects.get(identifier=identifier)
    return set(segment.memberships.values_list("user__username", flat=True))


def sent_bodies(site):
    """The bodies of the accepted attempts, oldest first."""
    return [
        json.loads(attempt["request"]["body"])
        for attempt in reversed(site.attempts())
        if attempt["status"] in (200, 202)
    ]


def test_the_first_sync_is_full_and_later_ones_deltas_against_what_the_site_acknowledged(
    exported, webhook
):
    exported.define([EARLY], [exported.site_activation(webhook, ["early-users"])])
    [report] = exported.activate()
    assert report.lines == ["early-users full (3 members): 200 applied"]
    assert segment_members("early-users") == {"user0", "user1", "user2"}
    segment = Segment.objects.get(identifier="early-users")
    assert (segment.name, segment.tags, segment.profile_count) == ("Early users", ["test"], 3)
    assert SegmentGroup.objects.get(identifier=GROUP).is_locked

    User.objects.filter(username="user0").update(username="user9")
    User.objects.filter(username="user4").update(username="user1b")
    exported.define(
        [{**EARLY, "all": [{"have": "login", "in": ["user1", "user2", "user1b"]}]}],
        [exported.site_activation(webhook, ["early-users"])],
    )
    call_command("stream_user_data", "--no-draft", "-v", "0")
    [report] = exported.activate()
    assert report.lines == ["early-users delta (+1 -1): 200 applied"]
    assert segment_members("early-users") == {"user1", "user2", "user1b"}

    [report] = exported.activate()
    assert report.lines == ["nothing changed since the last sync: nothing sent"]

    first, second = sent_bodies(exported)
    assert first["audiences"][0]["sync"] == "full"
    assert second["audiences"][0]["sync"] == "delta"
    assert second["audiences"][0]["sequence"] > first["audiences"][0]["sequence"]
    ids = [attempt["delivery_id"] for attempt in exported.attempts()]
    assert len(set(ids)) == 2
    assert set(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == set(ids)


def test_what_an_activation_sent_is_counted_in_words_that_agree_with_the_number(exported, webhook):
    one = {"id": "one-user", "all": [{"have": "login", "in": ["user0"]}]}
    exported.define([one], [exported.site_activation(webhook, ["one-user"])])
    [report] = exported.activate()
    assert report.lines == ["one-user full (1 member): 200 applied"]


def test_a_large_audience_is_sent_in_snapshot_parts_applied_when_the_last_arrives(
    exported, webhook
):
    everyone = {"id": "everyone", "all": [{"have": "login", "contains": "user"}]}
    exported.define([everyone], [exported.site_activation(webhook, ["everyone"], snapshot_size=4)])
    [report] = exported.activate()
    assert report.lines == [
        "everyone full, snapshot part 1 of 2 (4 members): 200 applied",
        "everyone full, snapshot part 2 of 2 (2 members): 200 applied",
    ]
    parts = [body["audiences"][0]["snapshot"] for body in sent_bodies(exported)]
    assert [(p["part"], p["parts"]) for p in parts] == [(1, 2), (2, 2)]
    assert parts[0]["id"] == parts[1]["id"]
    assert segment_members("everyone") == {f"user{n}" for n in range(6)}


def test_an_audience_taken_out_of_the_activation_is_removed_from_the_site(exported, webhook):
    other = {"id": "others", "all": [{"have": "login", "equals": "user5"}]}
    exported.define([EARLY, other], [exported.site_activation(webhook, ["early-users", "others"])])
    exported.activate()
    assert Segment.objects.filter(identifier="others").exists()

    exported.define([EARLY, other], [exported.site_activation(webhook, ["early-users"])])
    [report] = exported.activate()
    assert report.lines == ["others removed: 200 applied"]
    assert not Segment.objects.filter(identifier="others").exists()
    assert sent_bodies(exported)[-1]["removed_audiences"] == ["others"]


def test_a_503_is_retried_after_the_wait_the_site_asks_for_with_the_same_delivery_id(
    exported, webhook, monkeypatch
):
    apply = receiving.apply_delivery
    failures = []

    def unavailable_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("the database went away")
        return apply(*args, **kwargs)

    monkeypatch.setattr(receiving, "apply_delivery", unavailable_once)
    exported.define([EARLY], [exported.site_activation(webhook, ["early-users"])])
    waits = []
    [report] = exported.activate(sleep=waits.append)
    assert report.lines == ["early-users full (3 members): 200 applied"]
    assert waits == [30.0]  # the webhook's Retry-After
    second, first = exported.attempts()
    assert (first["status"], second["status"]) == (503, 200)
    assert first["delivery_id"] == second["delivery_id"]
    assert segment_members("early-users") == {"user0", "user1", "user2"}


def test_oauth2_a_signature_and_gzip_as_the_activation_says(exported, webhook, settings):
    settings.CDP_BRIDGE = exported.site_configuration(
        configuration(
            {"signing_secret": SIGNING_SECRET, "require_signature": True}, sources=SOURCES
        )
    )
    exported.define(
        [EARLY],
        [exported.site_activation(webhook, ["early-users"], authentication="oauth2", gzip_above=0)],
    )
    [report] = exported.activate()
    assert report.lines == ["early-users full (3 members): 200 applied"]
    [attempt] = exported.attempts()
    headers = attempt["request"]["headers"]
    assert headers["Authorization"] == "Bearer …"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["X-CDP-Signature"].startswith("t=")
    delivery = WebhookDelivery.objects.get()
    early = User.objects.filter(username__in=LOGINS["in"]).order_by("pk")
    members = json.loads(delivery.body)["audiences"][0]["members"]
    assert members == [str(pk) for pk in early.values_list("pk", flat=True)]


def test_a_wrong_signing_secret_is_refused_and_stops_the_activation_with_the_sites_message(
    exported, webhook, settings
):
    settings.CDP_BRIDGE = exported.site_configuration(
        configuration(
            {"signing_secret": SIGNING_SECRET, "require_signature": True}, sources=SOURCES
        )
    )
    activation = exported.site_activation(webhook, ["early-users"], signing_secret="x" * 20)
    exported.define([EARLY], [activation])
    with pytest.raises(ActivationFailed, match="refused the delivery with 401 invalid_credentials"):
        exported.activate()
    assert not Segment.objects.filter(identifier="early-users").exists()


def test_a_site_answering_4xx_stops_the_activation_with_its_message(exported, webhook):
    activation = exported.site_activation(webhook, ["early-users"])
    exported.define([EARLY], [{**activation, "segment_group_identifier": "another_group"}])
    with pytest.raises(ActivationFailed, match="403 segment_group_mismatch"):
        exported.activate()
    [attempt] = exported.attempts()
    assert attempt["status"] == 403
    assert "segment_group_mismatch" in attempt["response"]["body"]
    assert exported.store.acknowledged(activation["name"]) == {}  # the next run is full again


def test_a_site_that_is_down_is_retried_then_reported(exported, customers):
    dead = "http://127.0.0.1:9/cdp/webhook"  # the discard port: nothing listens
    exported.define([EARLY], [exported.site_activation(dead, ["early-users"], attempts=3)])
    waits = []
    with pytest.raises(ActivationFailed, match=r"did not accept the delivery after 3 attempts"):
        exported.activate(sleep=waits.append)
    assert waits == [0.5, 1.0]
    assert [a["outcome"] for a in reversed(exported.attempts())] == [
        "connection failed (ConnectionError); attempt 1",
        "connection failed (ConnectionError); attempt 2",
        "connection failed (ConnectionError); attempt 3",
    ]
