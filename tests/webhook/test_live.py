"""The webhook over real HTTP: a live server, ``requests``, gzip, tokens, and concurrency."""

import gzip
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection

from cdp_bridge.models import Segment, SegmentMembership, SnapshotPart, WebhookDelivery
from cdp_bridge.webhook import writers
from cdp_bridge.webhook.signatures import signature_header

from ..conftest import GOOD_SECRET, needs_postgresql
from .conftest import (
    CLIENT_ID,
    SIGNING_SECRET,
    audience,
    basic,
    delivery,
    ids,
    members,
    raw_post,
)

pytestmark = pytest.mark.django_db(transaction=True)

on_postgresql = needs_postgresql("concurrent writers need a database with row locks")


@pytest.fixture
def webhook(live_server):
    return f"{live_server.url}/cdp/webhook"


def send(url, body, **kwargs):
    kwargs.setdefault("auth", (CLIENT_ID, GOOD_SECRET))
    return requests.post(url, json=body, timeout=30, **kwargs)


@pytest.fixture
def session():
    """Opens sessions of their own on the test database (PostgreSQL), outside Django's."""
    import psycopg

    opened = []

    def open_session():
        settings = connection.settings_dict
        opened.append(
            psycopg.connect(
                host=settings["HOST"] or "127.0.0.1",
                port=settings["PORT"] or 5432,
                user=settings["USER"],
                password=settings["PASSWORD"],
                dbname=settings["NAME"],
            )
        )
        return opened[-1]

    yield open_session
    for opened_session in opened:
        opened_session.close()  # what was left uncommitted is rolled back


def wait_for_a_lock_wait(timeout=20.0):
    """Until a session of the test database waits for a lock another one holds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    pytest.fail("no session waited for a lock")


def test_each_way_to_authenticate_over_http(webhook, group, users, configure):
    configure({"signing_secret": SIGNING_SECRET, "require_signature": True})
    token = requests.post(
        f"{webhook}/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, GOOD_SECRET),
        timeout=30,
    ).json()["access_token"]
    for number, authentication in enumerate(
        [{"auth": (CLIENT_ID, GOOD_SECRET)}, {"headers": {"Authorization": f"Bearer {token}"}}]
    ):
        body = json.dumps(delivery(audience(members=ids(users[number : number + 1])))).encode()
        headers = {
            "Content-Type": "application/json",
            "X-CDP-Signature": signature_header(SIGNING_SECRET, body),
            **authentication.pop("headers", {}),
        }
        response = requests.post(webhook, data=body, headers=headers, timeout=30, **authentication)
        assert response.status_code == 200, response.text
        assert members("5d822e81") == {f"user{number}"}


def test_failures_over_http_are_json_with_the_right_status(webhook, group):
    assert send(webhook, delivery(), auth=(CLIENT_ID, "wrong-secret-00000")).status_code == 401
    unauthenticated = requests.post(webhook, json=delivery(), timeout=30)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(webhook, timeout=30).status_code == 405
    head = requests.head(webhook, auth=(CLIENT_ID, GOOD_SECRET), timeout=30)
    assert (head.status_code, head.content) == (200, b"")
    wrong = send(webhook, {**delivery(), "segment_group_identifier": "x"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "segment_group_mismatch")


def test_a_gzip_delivery_over_http(webhook, group, users):
    body = gzip.compress(json.dumps(delivery(audience(members=ids(users)))).encode())
    response = requests.post(
        webhook,
        data=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        auth=(CLIENT_ID, GOOD_SECRET),
        timeout=30,
    )
    assert response.json()["audiences"][0]["added"] == 10


@on_postgresql
def test_twenty_concurrent_deliveries_for_one_audience_end_in_the_highest_sequence(
    webhook, group, users
):
    def full(sequence):
        chosen = random.Random(sequence).sample(users, 4)
        return (
            sequence,
            {u.username for u in chosen},
            delivery(audience(sequence=sequence, name=f"seq {sequence}", members=ids(chosen))),
        )

    bodies = [full(sequence) for sequence in range(1, 21)]
    random.shuffle(bodies)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda item: send(webhook, item[2]), bodies))

    assert [response.status_code for response in responses] == [200] * 20
    outcomes = [response.json()["audiences"][0]["status"] for response in responses]
    assert set(outcomes) <= {"applied", "stale"}
    segment = Segment.objects.get(identifier="5d822e81")
    assert (segment.sequence, segment.name) == (20, "seq 20")
    assert members("5d822e81") == dict((s, m) for s, m, _ in bodies)[20]
    assert WebhookDelivery.objects.filter(status="applied").count() == 20


@on_postgresql
def test_concurrent_identical_deliveries_apply_once(webhook, group, users):
    body = delivery(audience(sync="delta", added=ids(users[:3])))
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: send(webhook, body), range(10)))
    assert sorted(r.json()["status"] for r in responses) == ["applied"] + ["duplicate"] * 9


@needs_postgresql("ending a database session from outside needs PostgreSQL")
def test_the_database_connection_dying_mid_delivery_is_503_and_nothing_is_half_written(
    webhook, group, users, monkeypatch
):
    assert send(webhook, delivery(audience(members=ids(users)))).status_code == 200
    from cdp_bridge.webhook.writers import PostgresMembershipWriter

    write_memberships = PostgresMembershipWriter._one_statement

    def write_then_lose_the_connection(cursor, sql, params):
        change = write_memberships(cursor, sql, params)  # 8 memberships deleted, uncommitted
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        with connection.cursor() as other:  # the test's own connection, a different session
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return change

    monkeypatch.setattr(
        PostgresMembershipWriter, "_one_statement", staticmethod(write_then_lose_the_connection)
    )
    response = send(webhook, delivery(audience(members=ids(users[:2]))))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json()["error"]["code"] == "unavailable"
    assert SegmentMembership.objects.count() == 10
    monkeypatch.undo()
    retry = send(webhook, delivery(audience(members=ids(users[:2]))))
    assert retry.json()["status"] == "applied"
    assert members("5d822e81") == {"user0", "user1"}


def test_a_chunked_body_the_server_cannot_decode_is_411_with_a_clear_error(webhook, group):
    """Django's development server (which the live server is) passes chunked bodies on undecoded."""
    body = json.dumps(delivery(audience(members=["1"]))).encode()
    response = requests.post(
        webhook,
        data=iter([body[:20], body[20:]]),
        headers={"Content-Type": "application/json"},
        auth=(CLIENT_ID, GOOD_SECRET),
        timeout=30,
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 411
    error = response.json()["error"]
    assert error["code"] == "length_required"
    assert "Content-Length" in error["message"]
    assert not Segment.objects.exists()


def test_a_body_shorter_than_its_content_length_is_400_and_not_applied(webhook, group, users):
    """The client closes its side before sending what its Content-Length announced: the server
    reads to the end of the connection, and what it read must not pass for the whole body."""
    body = json.dumps(delivery(audience(members=ids(users)))).encode()
    status, answer = raw_post(
        webhook,
        {
            "Content-Type": "application/json",
            "Authorization": basic(),
            "Content-Length": str(len(body) + 100),
        },
        body,
        close_after_sending=True,
    )
    assert (status, answer["error"]["code"]) == (400, "invalid_body")
    assert f"ended after {len(body)} of the {len(body) + 100} bytes" in answer["error"]["message"]
    assert not Segment.objects.exists()
    assert WebhookDelivery.objects.get().status == "rejected"


def usernames(pks):
    return set(User.objects.filter(pk__in=pks).values_list("username", flat=True))


@on_postgresql
def test_concurrent_snapshot_parts_new_segments_deltas_and_removals_never_deadlock(
    webhook, group, users
):
    """Twenty senders at once, each delivery holding locks the others want: none is refused.

    Deliveries carrying snapshot parts serialise on the segment group; deliveries creating a
    segment need the group too (a new segment's foreign key); every one also changes a segment
    that all of them share. Every answer must be 200 and every change must be in the end.
    """
    people = [*users, *User.objects.bulk_create(User(username=f"extra{n}") for n in range(30))]
    everyone = ids(people)
    rng = random.Random(5)
    temporary = [f"temp-{n}" for n in range(10)]
    assert send(webhook, delivery(*(audience(t, members=everyone[:2]) for t in temporary))).ok
    added_to_shared = set()

    def shared_delta():
        member = rng.choice(everyone)
        added_to_shared.add(member)
        return audience("shared", sync="delta", added=[member])

    snapshots = {f"snap-{n}": [rng.sample(everyone, 5) for _ in range(3)] for n in range(8)}
    bodies = [
        delivery(
            audience(name, members=members, snapshot={"id": f"s-{name}", "part": p, "parts": 3}),
            shared_delta(),
        )
        for name, parts in snapshots.items()
        for p, members in enumerate(parts, start=1)
    ]
    new = {f"new-{n}": rng.sample(everyone, 3) for n in range(30)}
    bodies += [delivery(shared_delta(), audience(name, members=m)) for name, m in new.items()]
    bodies += [delivery(shared_delta(), removed_audiences=[t]) for t in temporary]
    bodies += [
        delivery(shared_delta(), audience("other", sync="delta", added=[rng.choice(everyone)]))
        for _ in range(20)
    ]
    rng.shuffle(bodies)
    assert len(bodies) == 84

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: send(webhook, body), bodies))

    assert [r.status_code for r in responses if r.status_code != 200] == []
    assert {r.json()["status"] for r in responses} == {"applied"}
    assert set(ids(User.objects.filter(cdp_segments__identifier="shared"))) == added_to_shared
    for name, parts in snapshots.items():
        assert members(name) == usernames([pk for part in parts for pk in part])
    assert not SnapshotPart.objects.exists()
    for name, m in new.items():
        assert members(name) == usernames(m)
    assert not Segment.objects.filter(identifier__in=temporary).exists()
    assert WebhookDelivery.objects.exclude(status="applied").count() == 0


@on_postgresql
@pytest.mark.parametrize(
    ("path", "sync_kind", "person_field"),
    [
        ("unnest", "full", None),
        ("unnest", "delta", None),
        ("copy", "full", None),
        ("copy", "delta", None),
        ("copy", "full", "username"),
    ],
)
def test_a_delivery_racing_the_erasure_of_a_member_skips_that_member(
    webhook, group, users, session, monkeypatch, configure, path, sync_kind, person_field
):
    """A user deleted (not yet committed) while a delivery adds them: the delivery waits for
    the erasure, then counts them unknown and applies the rest, never a 500 at commit."""
    if path == "copy":
        monkeypatch.setattr(writers, "COPY_FROM", 1)  # the identifiers go by COPY
    if person_field:
        configure({"person_identifier_field": person_field})
    victim, kept = users[0], users[1]
    named = [getattr(user, person_field or "pk") for user in (victim, kept)]
    eraser = session()
    eraser.execute("DELETE FROM cdp_bridge_segmentmembership WHERE user_id = %s", [victim.pk])
    eraser.execute("DELETE FROM auth_user WHERE id = %s", [victim.pk])
    if sync_kind == "full":
        body = delivery(audience(members=[str(value) for value in named]))
    else:
        body = delivery(audience(sync="delta", added=[str(value) for value in named]))
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(send, webhook, body)
        wait_for_a_lock_wait()
        eraser.commit()
        response = answer.result()
    assert response.status_code == 200, response.text
    [result] = response.json()["audiences"]
    assert (result["status"], result["added"], result["unknown_members"]) == ("applied", 1, 1)
    assert members("5d822e81") == {kept.username}
    assert WebhookDelivery.objects.get().status == "applied"


@on_postgresql
def test_an_erasure_racing_a_delivery_that_adds_the_person_still_deletes_them(
    webhook, group, users, session
):
    """Django deletes a user's memberships, then the user, in one transaction. A delivery that
    makes them a member in between commits first; deleting the user still works, and takes the
    new membership with it (the database cascades), instead of failing at commit."""
    victim, kept = users[0], users[1]
    eraser = session()
    eraser.execute("DELETE FROM cdp_bridge_segmentmembership WHERE user_id = %s", [victim.pk])
    response = send(webhook, delivery(audience(members=[str(victim.pk), str(kept.pk)])))
    assert response.status_code == 200, response.text
    assert members("5d822e81") == {victim.username, kept.username}
    eraser.execute("DELETE FROM auth_user WHERE id = %s", [victim.pk])
    eraser.commit()
    assert members("5d822e81") == {kept.username}
    assert not SegmentMembership.objects.filter(user_id=victim.pk).exists()


@on_postgresql
def test_a_delivery_holding_its_group_lets_others_add_rows_that_reference_the_group(
    webhook, group, users, session
):
    """The group lock of a delivery (one carrying snapshot parts, or creating segments) takes no
    key: a segment or snapshot part added to the group meanwhile, whose foreign key takes a
    key-share lock on the group row, is not held up by it (a plain FOR UPDATE would be)."""
    assert send(webhook, delivery(audience("held", members=ids(users[:1])))).ok
    holder = session()
    holder.execute("SELECT 1 FROM cdp_bridge_segment WHERE identifier = 'held' FOR UPDATE")
    part = {"id": "s1", "part": 1, "parts": 1}
    body = delivery(audience("held", members=ids(users[:2]), snapshot=part))
    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(send, webhook, body)
        wait_for_a_lock_wait()  # holding the group row, the delivery waits for its segment
        beside = session()
        beside.execute("SET lock_timeout = '5s'")
        beside.execute("SET LOCAL cdp_bridge.cdp_writes = on")  # the group is locked
        beside.execute(
            "INSERT INTO cdp_bridge_segment (group_id, identifier, name, description, tags, "
            "created_at, updated_at) VALUES (%s, 'beside', '', '', '[]', now(), now())",
            [group.pk],
        )
        beside.execute(
            "INSERT INTO cdp_bridge_snapshotpart (group_id, audience_identifier, snapshot_id, "
            "part, parts, audience, received_at) VALUES (%s, 'other', 's2', 1, 2, '{}', now())",
            [group.pk],
        )
        beside.commit()  # the foreign keys are checked now: a key-share lock on the group row
        holder.rollback()
        response = answer.result()
    assert response.status_code == 200, response.text
    assert members("held") == {"user0", "user1"}
    assert set(Segment.objects.values_list("identifier", flat=True)) == {"held", "beside"}


def test_a_signed_request_replayed_inside_the_window_is_a_duplicate(
    webhook, group, users, configure
):
    """Neither X-CDP-Delivery-Id nor its absence is signed: a replay of the body with its
    signature, under another delivery id or none, changes nothing. The CDP's own retry signs
    anew (a new timestamp) and is deduplicated by its delivery id, as ever."""
    configure({"signing_secret": SIGNING_SECRET, "require_signature": True})

    def post(body, delivery_id=None, signed=None):
        headers = {
            "Content-Type": "application/json",
            "X-CDP-Signature": signed or signature_header(SIGNING_SECRET, body),
        }
        if delivery_id is not None:
            headers["X-CDP-Delivery-Id"] = delivery_id
        return requests.post(
            webhook, data=body, headers=headers, auth=(CLIENT_ID, GOOD_SECRET), timeout=30
        )

    added = json.dumps(delivery(audience(sync="delta", added=ids(users[:1])))).encode()
    signature = signature_header(SIGNING_SECRET, added)
    assert post(added, "d-1", signature).json()["status"] == "applied"
    removed = json.dumps(delivery(audience(sync="delta", removed=ids(users[:1])))).encode()
    assert post(removed, "d-2").json()["status"] == "applied"
    replays = [
        post(added, "d-3", signature),
        post(added, None, signature),
        post(added, "d-4", f"{signature},v1={'0' * 64}"),  # another candidate added
    ]
    for replay in replays:
        answer = replay.json()
        assert (replay.status_code, answer["status"]) == (200, "duplicate")
        assert answer["delivery_id"] == "d-1"
    assert members("5d822e81") == set()  # the removal was not undone by a replay
    later = signature_header(SIGNING_SECRET, added, int(time.time()) + 1)
    retry = post(added, "d-1", later)  # the CDP's retry: signed anew, the same delivery id
    assert (retry.json()["status"], retry.json()["delivery_id"]) == ("duplicate", "d-1")
    assert members("5d822e81") == set()
    assert WebhookDelivery.objects.filter(status="duplicate").count() == 4


@on_postgresql
def test_concurrent_replays_of_a_signed_request_apply_once(webhook, group, users, configure):
    configure({"signing_secret": SIGNING_SECRET, "require_signature": True})
    body = json.dumps(delivery(audience(sync="delta", added=ids(users[:3])))).encode()
    signature = signature_header(SIGNING_SECRET, body)

    def replay(number):
        headers = {
            "Content-Type": "application/json",
            "X-CDP-Signature": signature,
            "X-CDP-Delivery-Id": f"replay-{number}",
        }
        return requests.post(
            webhook, data=body, headers=headers, auth=(CLIENT_ID, GOOD_SECRET), timeout=30
        ).json()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(replay, range(10)))
    assert sorted(answer["status"] for answer in answers) == ["applied"] + ["duplicate"] * 9
    [applied] = [answer["delivery_id"] for answer in answers if answer["status"] == "applied"]
    assert {answer["delivery_id"] for answer in answers} == {applied}
