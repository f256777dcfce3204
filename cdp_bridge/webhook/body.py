"""Reading a webhook body safely: media type, size limits, chunked bodies, gzip, and JSON.

The size limit (``webhook.max_body_bytes``) is enforced before the body is read into memory
(by ``Content-Length``, then while reading) and again while it is decompressed, so neither a
large upload nor a small "gzip bomb" can exhaust memory. A body that cannot be read whole —
malformed chunks, a connection that ends before the body does — is refused, never applied in
part. Each refusal is a WebhookRejected subclass saying what is wrong; the view answers it
with its status.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any, Protocol

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from cdp_bridge.exceptions import (
    InvalidJson,
    InvalidPayload,
    LengthRequired,
    PayloadTooLarge,
    UnreadableBody,
    UnsupportedMediaType,
)
from cdp_bridge.translation import interpolate_lazy

CHUNK = 256 * 1024
JSON_MEDIA_TYPES = frozenset({"application/json"})
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip"})
GZIP = 16 + zlib.MAX_WBITS
# Escapes that decode to text no database column can hold: NUL and unpaired surrogates.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def check_media_type(request: HttpRequest) -> None:
    """Refuse a body that is not JSON, or is encoded with anything but gzip."""
    media_type = request.META.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            interpolate_lazy(
                gettext_lazy("Send Content-Type: application/json, not %(media_type)s."),
                {"media_type": repr(media_type or "nothing")},
            )
        )
    encoding = content_encoding(request)
    if encoding not in ENCODINGS:
        raise UnsupportedMediaType(
            interpolate_lazy(
                gettext_lazy(
                    "Content-Encoding %(encoding)s is not supported; send the body as it is, "
                    "or gzip."
                ),
                {"encoding": repr(encoding)},
            )
        )


def content_encoding(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_CONTENT_ENCODING", "")).strip().lower()


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, at most ``limit`` bytes; refused before reading when Content-Length is larger.

    A chunked body (``Transfer-Encoding: chunked``, no Content-Length) is read where the web
    server decodes it; where it hands the chunks on undecoded, it cannot be read (411).
    """
    stream: Readable = request
    chunked = is_chunked(request)
    if chunked:
        stream = _decoded_chunked_stream(request)
    elif declared_length(request) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := _read(stream, min(CHUNK, limit + 1 - size)):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    # Django and the servers stop at the end of the connection without a word: a body cut
    # short must not be applied as if it were the whole.
    if not chunked and size < declared_length(request):
        raise UnreadableBody(
            interpolate_lazy(
                gettext_lazy(
                    "The body ended after %(size)d of the %(length)d bytes its Content-Length "
                    "announces: the connection was closed before it was sent whole."
                ),
                {"size": size, "length": declared_length(request)},
            )
        )
    return b"".join(chunks)


def _read(stream: Readable, size: int) -> bytes:
    """The next bytes of the body; UnreadableBody when the server cannot read them.

    What the server's input stream raises for a body it cannot read is the sender's doing: a
    dropped connection (OSError, which Django raises as UnreadablePostError), or with gunicorn
    a malformed chunk or a connection closed inside one (``gunicorn.http.errors``, recognised by
    name so that gunicorn need not be installed).
    """
    try:
        return stream.read(size)
    except Exception as error:
        if not _is_unreadable_input(error):
            raise
        reason = str(error) or type(error).__name__
        raise UnreadableBody(
            interpolate_lazy(
                gettext_lazy("The body could not be read: %(reason)s."), {"reason": reason}
            )
        ) from None


def _is_unreadable_input(error: Exception) -> bool:
    return isinstance(error, OSError) or any(
        kind.__module__ == "gunicorn.http.errors" for kind in type(error).__mro__
    )


def is_chunked(request: HttpRequest) -> bool:
    """Whether the body comes in chunks of unannounced length (RFC 9112 §7.1)."""
    encodings = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encodings.lower() and not request.META.get("CONTENT_LENGTH")


def _decoded_chunked_stream(request: HttpRequest) -> Readable:
    """The decoded body of a chunked request, if the server decoded it.

    Django reads a WSGI body only up to its Content-Length, which a chunked body has none of.
    A WSGI server that decodes chunks and ends the stream with the body says so with
    ``wsgi.input_terminated`` (gunicorn, mod_wsgi, uWSGI); an ASGI server always decodes, and
    Django's ASGI request reads to the end. Django's development server does neither.
    """
    if not isinstance(request, WSGIRequest):
        return request
    if request.environ.get("wsgi.input_terminated"):
        stream: Readable = request.environ["wsgi.input"]
        return stream
    raise LengthRequired(
        gettext_lazy(
            "This web server cannot read a chunked body (Transfer-Encoding: chunked): send the "
            "body with a Content-Length, or serve the site with a server that decodes chunked "
            "bodies (gunicorn, uWSGI, mod_wsgi, or any ASGI server)."
        )
    )


def declared_length(request: HttpRequest) -> int:
    """The Content-Length; 0 when it is not a number, as Django itself then reads no body."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most ``limit`` bytes once decompressed.

    A gzip body may hold several members, one after the other (RFC 1952 §2.2): each is
    decompressed, and together they must stay within the limit.
    """
    if encoding not in ("gzip", "x-gzip"):
        return raw
    members: list[bytes] = []
    size = 0
    remaining = raw
    try:
        while remaining:
            decompressor = zlib.decompressobj(wbits=GZIP)
            member = decompressor.decompress(remaining, limit + 1 - size)
            size += len(member)
            if size > limit:
                raise _too_large(limit, decompressed=True)
            if not decompressor.eof:
                raise zlib.error("the gzip stream is truncated")
            members.append(member)
            remaining = decompressor.unused_data
    except zlib.error as error:
        raise InvalidJson(
            interpolate_lazy(
                gettext_lazy("The body is not valid gzip (Content-Encoding: gzip): %(error)s."),
                {"error": error},
            )
        ) from None
    return b"".join(members)


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body`` (UTF-8); 400 ``invalid_json`` saying where it breaks."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise InvalidJson(
            interpolate_lazy(
                gettext_lazy("The body is not UTF-8 (byte %(byte)d)."), {"byte": error.start}
            )
        ) from None
    except json.JSONDecodeError as error:
        # The decoder's own reason (``Expecting value``) is Python's, in English.
        raise InvalidJson(
            interpolate_lazy(
                gettext_lazy(
                    "The body is not JSON: %(reason)s at line %(line)d column %(column)d."
                ),
                {"reason": error.msg, "line": error.lineno, "column": error.colno},
            )
        ) from None
    except (ValueError, RecursionError) as error:
        raise InvalidJson(
            interpolate_lazy(
                gettext_lazy("The body is not usable JSON: %(error)s."), {"error": error}
            )
        ) from None
    if _UNSTORABLE_ESCAPE.search(body):
        details = list(_unstorable_text(document, ""))
        if details:
            raise InvalidPayload(
                gettext_lazy("The body contains text that cannot be stored."), details
            )
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unstorable_text(value: Any, path: str) -> Any:
    """Each string (or key) holding NUL or an unpaired surrogate, with its JSON pointer."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            yield {"path": path, "message": gettext_lazy("Contains NUL or an unpaired surrogate.")}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_text(item, f"{path}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}/{pointer_token(key)}"
            if "\x00" in key or not _encodable(key):
                yield {
                    "path": child,
                    "message": gettext_lazy("The key contains NUL or an unpaired surrogate."),
                }
            yield from _unstorable_text(item, child)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def pointer_token(key: str) -> str:
    """A key escaped for a JSON pointer (RFC 6901).

    NUL and unpaired surrogates, which no answer can encode and no database column store, are
    written as the ``\\u0000`` escapes the sender wrote them with.
    """
    token = key.replace("~", "~0").replace("/", "~1")
    if "\x00" in token or not _encodable(token):
        token = token.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")
    return token


def _too_large(limit: int, *, decompressed: bool = False) -> PayloadTooLarge:
    message = (
        gettext_lazy(
            "The decompressed body is larger than %(limit)d bytes (webhook.max_body_bytes). "
            "Split the audience into snapshot parts."
        )
        if decompressed
        else gettext_lazy(
            "The body is larger than %(limit)d bytes (webhook.max_body_bytes). Split the "
            "audience into snapshot parts."
        )
    )
    return PayloadTooLarge(interpolate_lazy(message, {"limit": limit}))
