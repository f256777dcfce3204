"""Batches: JSON arrays within max_batch_bytes, with exact decimals and nothing but scalars."""

import json
from decimal import Decimal

import pytest

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.batches import encode_rows, split_into_batches

ROWS = [{"id": n, "name": f"Person {n}", "bio": "x" * 50} for n in range(1, 41)]


def batches(rows, max_bytes):
    return list(split_into_batches(rows, lambda index: rows[index]["id"], max_bytes, 1))


def test_rows_are_one_compact_utf8_json_array():
    body = encode_rows([{"id": 1, "name": "Åse Ødegård", "ok": True, "none": None}])
    assert body == '[{"id":1,"name":"Åse Ødegård","ok":true,"none":null}]'.encode()


def test_a_chunk_within_the_limit_is_one_batch():
    [batch] = batches(ROWS, 1024 * 1024)
    assert (batch.number, batch.rows, batch.last_key) == (1, 40, 40)
    assert json.loads(batch.body) == ROWS


def test_a_chunk_over_the_limit_is_split_into_batches_within_it():
    split = batches(ROWS, 1024)
    assert len(split) > 1
    assert all(len(batch.body) <= 1024 for batch in split)
    assert [row for batch in split for row in json.loads(batch.body)] == ROWS
    assert [batch.number for batch in split] == list(range(1, len(split) + 1))
    for batch in split:  # each batch knows the key of its own last row
        assert batch.last_key == json.loads(batch.body)[-1]["id"]
        assert batch.rows == len(json.loads(batch.body))


def test_a_row_larger_than_the_limit_is_an_error_naming_it():
    rows = [{"id": 1}, {"id": 2, "bio": "x" * 2000}]
    with pytest.raises(ExportError, match=r"The row with key 2 is 2\d\d\d bytes as JSON, more"):
        batches(rows, 1024)


def test_decimals_are_numbers_with_their_own_digits():
    body = encode_rows([{"price": Decimal("19.90"), "big": Decimal("12345678901234567.89")}])
    assert body == b'[{"price":19.90,"big":12345678901234567.89}]'


def test_text_that_looks_like_a_decimal_marker_stays_text():
    rows = [{"price": Decimal("1.0"), "note": "0123abcd:0"}]
    assert json.loads(encode_rows(rows))[0]["note"] == "0123abcd:0"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
def test_a_value_json_cannot_hold_is_refused(value):
    # Lists and objects are valid JSON, so processors' results are checked for them instead
    # (test_processors): the CDP stores scalars only.
    with pytest.raises(ExportError, match="A row cannot be sent as JSON"):
        encode_rows([{"id": 1, "bad": value}])
