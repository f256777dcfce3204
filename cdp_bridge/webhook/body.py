"""Reading a webhook body safely: media type, size limits, gzip, and JSON.

The size limit (``webhook.max_body_bytes``) is enforced before the body is read into memory
(by ``Content-Length``, then while reading) and again while it is decompressed, so neither a
large upload nor a small "gzip bomb" can exhaust memory. Each refusal is a WebhookRejected
carrying the status and error code of SPEC §3.3.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from django.http import HttpRequest

from cdp_bridge.exceptions import WebhookRejected

CHUNK = 256 * 1024
JSON_MEDIA_TYPES = frozenset({"application/json"})
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip"})
# Escapes that decode to text no database column can hold: NUL and unpaired surrogates.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def check_media_type(request: HttpRequest) -> None:
    """Refuse a body that is not JSON, or is encoded with anything but gzip (415)."""
    media_type = request.META.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise WebhookRejected(
            415,
            "unsupported_media_type",
            f"Send Content-Type: application/json, not {media_type or 'nothing'!r}.",
        )
    encoding = content_encoding(request)
    if encoding not in ENCODINGS:
        raise WebhookRejected(
            415,
            "unsupported_media_type",
            f"Content-Encoding {encoding!r} is not supported; send the body as it is, or gzip.",
        )


def content_encoding(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_CONTENT_ENCODING", "")).strip().lower()


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes; 413 before reading when Content-Length is larger."""
    if declared_length(request) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := request.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def declared_length(request: HttpRequest) -> int:
    """The Content-Length; 0 when it is not a number, as Django itself then reads no body."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most ``limit`` bytes once decompressed."""
    if encoding not in ("gzip", "x-gzip"):
        return raw
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = decompressor.decompress(raw, limit + 1)
        if len(body) > limit:
            raise _too_large(limit, decompressed=True)
        if not decompressor.eof:
            raise zlib.error("the gzip stream is truncated")
    except zlib.error as error:
        raise WebhookRejected(
            400, "invalid_json", f"The body is not valid gzip (Content-Encoding: gzip): {error}."
        ) from None
    return body


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body`` (UTF-8); 400 ``invalid_json`` saying where it breaks."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise WebhookRejected(
            400, "invalid_json", f"The body is not UTF-8 (byte {error.start})."
        ) from None
    except json.JSONDecodeError as error:
        raise WebhookRejected(
            400,
            "invalid_json",
            f"The body is not JSON: {error.msg} at line {error.lineno} column {error.colno}.",
        ) from None
    except (ValueError, RecursionError) as error:
        raise WebhookRejected(
            400, "invalid_json", f"The body is not usable JSON: {error}."
        ) from None
    if _UNSTORABLE_ESCAPE.search(body):
        details = list(_unstorable_text(document, ""))
        if details:
            raise WebhookRejected(
                400, "invalid_payload", "The body contains text that cannot be stored.", details
            )
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unstorable_text(value: Any, path: str) -> Any:
    """Each string (or key) holding NUL or an unpaired surrogate, with its JSON pointer."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            yield {"path": path, "message": "Contains NUL or an unpaired surrogate."}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_text(item, f"{path}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}/{pointer_token(key)}"
            if "\x00" in key or not _encodable(key):
                yield {"path": child, "message": "The key contains NUL or an unpaired surrogate."}
            yield from _unstorable_text(item, child)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def pointer_token(key: str) -> str:
    """A key escaped for a JSON pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _too_large(limit: int, *, decompressed: bool = False) -> WebhookRejected:
    which = "decompressed body" if decompressed else "body"
    return WebhookRejected(
        413,
        "payload_too_large",
        f"The {which} is larger than {limit} bytes (webhook.max_body_bytes). Split the "
        "audience into snapshot parts.",
    )
