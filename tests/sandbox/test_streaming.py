"""The sandbox's Streaming API, as strict as Raptor documents it, and its Data Manager view."""

import pytest
import requests

from cdp_bridge.sandbox.faults import Faults, FaultSpecInvalid

from .conftest import STREAM, post_batch

USERS = [
    {"id": 1, "login": "ada", "email": "ada@example.com", "born": "1815-12-10"},
    {"id": 2, "login": "bob", "email": None, "born": "1990-01-01"},
]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"stream": ""}, 400, "The x-streamid header is missing"),
        ({"stream": "not-a-stream"}, 400, "is not a stream id"),
        ({"account": "abc"}, 404, "the account id is a number"),
        ({"Content-Type": "text/csv"}, 415, "must be application/json, not text/csv"),
        ({"x-isdraft": "false"}, 400, "send 'true' for a draft, and no header at all"),
        ({"body": b'{"id": 1}'}, 400, "must be a JSON array of objects, not an object"),
        ({"body": b"[]"}, 400, "an empty array"),
        ({"body": b"[1, 2]"}, 400, "row 0 is a int, not an object"),
        ({"body": b'[{"id": 1, "tags": ["a"]}]'}, 400, "row 0 column 'tags' is an array"),
        ({"body": b'[{"id": 1, "x": {"y": 1}}]'}, 400, "row 0 column 'x' is an object"),
        ({"body": b'[{"id": NaN}]'}, 400, "not JSON"),
        ({"body": b'[{"id": \xff}]'}, 400, "not UTF-8"),
        ({"body": b'[{"": 1}]'}, 400, "an empty column name"),
    ],
)
def test_a_malformed_batch_is_refused_with_a_message_saying_what_is_wrong(
    sandbox, change, status, message
):
    stream = change.pop("stream", STREAM)
    account = change.pop("account", "12345")
    body = change.pop("body", None)
    response = post_batch(sandbox.url, USERS, body=body, stream=stream, account=account, **change)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert sandbox.store.streams() == [] or sandbox.store.rows() == []
    [refused] = sandbox.store.batches()
    assert (refused["status"], message in refused["message"]) == (status, True)


def test_person_rows_are_upserted_by_id_and_a_null_deletes_a_value(sandbox):
    assert post_batch(sandbox.url, USERS).status_code == 200
    update = [{"id": 1, "login": "ada2", "born": None}, {"id": 3, "login": "cy"}]
    assert post_batch(sandbox.url, update).json()["rows"] == 2
    assert sandbox.store.rows(STREAM) == [
        {"id": 1, "login": "ada2", "email": "ada@example.com"},
        {"id": 2, "login": "bob", "born": "1990-01-01"},
        {"id": 3, "login": "cy"},
    ]
    assert set(sandbox.store.persons()) == {"1", "2", "3"}


def test_drafts_are_kept_apart_from_the_full_data(sandbox):
    post_batch(sandbox.url, USERS[:1], draft=True)
    assert sandbox.store.rows(STREAM) == []
    assert sandbox.store.rows(STREAM, draft=True) == [USERS[0]]
    assert sandbox.store.persons() == {}  # audiences are built from full data only
    [stream] = sandbox.store.streams()
    assert (stream["draft_rows"], stream["full_rows"], stream["last_draft"]) == (1, 0, 1)


def test_catalogue_rows_are_upserted_by_id_in_their_own_stream(sandbox):
    products = "1111aaaa-2222bbbb-3333cccc-4444dddd"
    rows = [{"id": 7, "product_type": "laptop", "code": "LAP-7", "name": "Nimbus"}]
    post_batch(sandbox.url, rows, stream=products)
    post_batch(sandbox.url, [{**rows[0], "name": "Nimbus Pro"}], stream=products)
    assert sandbox.store.rows(products) == [{**rows[0], "name": "Nimbus Pro"}]
    assert sandbox.store.streams()[0]["schema"] == "catalogue"
    assert sandbox.store.persons() == {}


def test_the_data_manager_infers_types_and_flags_changes_and_rows_without_an_identifier(sandbox):
    post_batch(sandbox.url, USERS, draft=True)
    post_batch(sandbox.url, [{"id": 5, "born": 1990}, {"login": "nobody"}], draft=True)
    columns = {c["name"]: c for c in sandbox.store.columns(STREAM, draft=True)}
    assert {name: c["type"] for name, c in columns.items()} == {
        "id": "Number",
        "login": "String",
        "email": "String",
        "born": "DateTime",
    }
    assert columns["born"]["changed"] == "DateTime and Number (in batch 2)"
    assert columns["login"]["changed"] is None
    [flag] = sandbox.store.flags(STREAM)
    assert (
        "1 rows without the identifier column 'id' (missing, null or empty: rows 1 of the batch)"
        in flag["message"]
    )
    assert sandbox.store.row_count(STREAM, draft=True) == 3  # the row without an id is not kept


@pytest.mark.parametrize("missing", ["", "   ", None])
def test_a_person_row_with_an_empty_id_is_flagged_not_stored_as_a_person(sandbox, missing):
    post_batch(sandbox.url, [{"id": 5, "login": "ada"}, {"id": missing, "login": "nobody"}])
    [flag] = sandbox.store.flags(STREAM)
    assert (
        "1 rows without the identifier column 'id' (missing, null or empty: rows 1 of the batch)"
        in flag["message"]
    )
    assert sandbox.store.rows(STREAM) == [{"id": 5, "login": "ada"}]
    assert set(sandbox.store.persons()) == {"5"}
    page = requests.get(f"{sandbox.url}/streams/1", timeout=10)
    assert "without the identifier column" in page.text


@pytest.mark.parametrize(
    ("spec", "status", "retry_after"), [("503:1", 503, "3"), ("429:1", 429, "3")]
)
def test_failure_injection_answers_a_share_of_batches_with_an_error(
    sandbox, spec, status, retry_after
):
    sandbox.app.faults = Faults.parse(spec, retry_after=3)
    response = post_batch(sandbox.url, USERS)
    assert (response.status_code, response.headers["Retry-After"]) == (status, retry_after)
    assert sandbox.store.rows() == []
    assert sandbox.store.batches()[0]["message"] == f"Injected failure: answered {status}."


def test_failure_injection_can_drop_the_connection_or_answer_slowly(sandbox):
    sandbox.app.faults = Faults.parse("drop:1")
    with pytest.raises(requests.ConnectionError):
        post_batch(sandbox.url, USERS)
    waits = []
    sandbox.app.sleep = waits.append
    sandbox.app.faults = Faults.parse("slow:1", slow_seconds=4.5)
    assert post_batch(sandbox.url, USERS).status_code == 200
    assert waits == [4.5]


def test_a_share_of_failures_is_a_share():
    faults = Faults.parse("503:0.25,drop:0.25", seed=7)
    draws = [faults.draw() for _ in range(2000)]
    assert 400 < draws.count("503") < 600
    assert 400 < draws.count("drop") < 600
    assert 900 < draws.count(None) < 1100


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("500:0.1", "unknown failure '500'"),
        ("503:lots", "write the share of requests as a number"),
        ("503:1.5", "a share is between 0 and 1"),
        ("503:0.6,429:0.6", "add up to more than 1"),
    ],
)
def test_a_wrong_failure_specification_says_what_is_wrong(spec, message):
    with pytest.raises(FaultSpecInvalid, match=message):
        Faults.parse(spec)
