"""Reading a body: media types, size limits before and while reading, chunked bodies, gzip, JSON."""

import gzip
import io
import re

import pytest
from django.test import RequestFactory

from cdp_bridge.exceptions import (
    InvalidJson,
    InvalidPayload,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from cdp_bridge.webhook.body import check_media_type, decompress, parse_json, read_body


class CountingStream(io.BytesIO):
    """A request body that remembers how much of it was read."""

    def __init__(self, data):
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def request_with(body, **meta):
    request = RequestFactory().post("/cdp/webhook")
    stream = CountingStream(body)
    request.environ["wsgi.input"] = stream
    request.META.update({"CONTENT_TYPE": "application/json", **meta})
    request._stream = stream
    return request, stream


def chunked_request(body, *, decoded_by_the_server):
    request, stream = request_with(body, HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH="")
    request._stream = io.BytesIO()  # what Django reads for a body without Content-Length
    request.environ["wsgi.input_terminated"] = decoded_by_the_server
    return request, stream


def test_a_body_within_the_limit_is_read_whole():
    request, _ = request_with(b"x" * 5000, CONTENT_LENGTH="5000")
    assert read_body(request, 5000) == b"x" * 5000


def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read():
    request, stream = request_with(b"x" * 5000, CONTENT_LENGTH="5000")
    with pytest.raises(PayloadTooLarge, match="larger than 4999 bytes"):
        read_body(request, 4999)
    assert stream.taken == 0


def test_a_chunked_body_is_read_from_the_server_that_decoded_it():
    request, _ = chunked_request(b'{"a": 1}', decoded_by_the_server=True)
    assert read_body(request, 100) == b'{"a": 1}'


def test_a_chunked_body_over_the_limit_is_refused_once_one_byte_too_many_is_read():
    request, stream = chunked_request(b"x" * 1_000_000, decoded_by_the_server=True)
    with pytest.raises(PayloadTooLarge):
        read_body(request, 1000)
    assert stream.taken == 1001


def test_a_chunked_body_the_server_passes_on_undecoded_is_length_required():
    request, stream = chunked_request(b"5\r\nhello\r\n0\r\n\r\n", decoded_by_the_server=False)
    with pytest.raises(LengthRequired, match="send the body with a Content-Length"):
        read_body(request, 1000)
    assert stream.taken == 0


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"CONTENT_TYPE": "text/plain"}, "Send Content-Type: application/json, not 'text/plain'"),
        ({"CONTENT_TYPE": ""}, "not 'nothing'"),
        ({"HTTP_CONTENT_ENCODING": "br"}, "Content-Encoding 'br' is not supported"),
    ],
)
def test_anything_but_json_as_it_is_or_gzipped_is_refused(meta, message):
    request, _ = request_with(b"{}", **meta)
    with pytest.raises(UnsupportedMediaType, match=message):
        check_media_type(request)


def test_json_with_a_charset_and_gzip_are_accepted():
    request, _ = request_with(
        b"{}", CONTENT_TYPE="Application/JSON; charset=utf-8", HTTP_CONTENT_ENCODING="gzip"
    )
    check_media_type(request)


def test_gzip_members_are_decompressed_one_after_the_other():
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 4) == b"abcd"
    assert decompress(b"as it is", "identity", 4) == b"as it is"


@pytest.mark.parametrize(
    ("compressed", "message"),
    [
        (gzip.compress(b"abc")[:-4], "truncated"),
        (gzip.compress(b"abc") + b"\x00\x00", "not valid gzip"),
        (b"plain text", "not valid gzip"),
    ],
)
def test_gzip_that_is_cut_off_or_followed_by_something_else_is_invalid(compressed, message):
    with pytest.raises(InvalidJson, match=message):
        decompress(compressed, "gzip", 100)


def test_gzip_is_decompressed_no_further_than_the_limit():
    with pytest.raises(PayloadTooLarge, match="decompressed body is larger than 1000"):
        decompress(gzip.compress(b"x" * 10_000_000), "x-gzip", 1000)
    with pytest.raises(PayloadTooLarge):
        decompress(gzip.compress(b"x" * 600) * 2, "gzip", 1000)


def test_json_is_parsed_strictly():
    assert parse_json(b'{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}
    for not_json, message in [
        (b'{"a": Infinity}', "Infinity is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "not usable JSON"),
        (b"\xff", "not UTF-8 (byte 0)"),
        (b'{"a": }', "line 1 column 7"),
    ]:
        with pytest.raises(InvalidJson, match=re.escape(message)):
            parse_json(not_json)


def test_text_no_database_can_store_is_refused_with_its_path():
    with pytest.raises(InvalidPayload) as refused:
        parse_json(b'{"a/b": ["ok", "\\u0000"], "\\ud800": 1}')
    assert refused.value.details == [
        {"path": "/a~1b/1", "message": "Contains NUL or an unpaired surrogate."},
        # Written with the escape the body used: the answer could not encode the surrogate.
        {"path": "/\\ud800", "message": "The key contains NUL or an unpaired surrogate."},
    ]
