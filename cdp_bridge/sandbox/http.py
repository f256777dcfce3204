"""A small threaded HTTP/1.1 server for the sandbox (standard library only).

The sandbox needs more control than WSGI gives: to test a site's retries it must be able to
drop a connection without answering. ``Request`` and ``Response`` are all the app sees.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_REQUEST_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except Exception:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace")))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(value).encode(), "application/json", dict(headers))

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(303, b"", "text/plain", {"Location": location})


class Drop:
    """Answer nothing and close the connection (a dropped connection, for failure tests)."""


DROP = Drop()
Handler = Callable[[Request], Response | Drop]


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Lets a restart bind while old connections linger (TIME_WAIT); a port another server
    # listens on is still refused, and reported.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handle: Handler) -> None:
        self.handle = handle
        if ":" in address[0]:  # an IPv6 address: [::1]:8765
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the app reports what matters

    def do_GET(self) -> None:
        self.respond()

    def do_POST(self) -> None:
        self.respond()

    def do_HEAD(self) -> None:
        self.respond()

    def do_PUT(self) -> None:
        self.respond()

    def do_DELETE(self) -> None:
        self.respond()

    def respond(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.write(Response.json({"error": "Send a Content-Length."}, 411), close=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.write(
                Response.json({"error": "Bad or too large Content-Length."}, 413), close=True
            )
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            self.command,
            url.path,
            dict(parse_qsl(url.query, keep_blank_values=True)),
            {name.lower(): value for name, value in self.headers.items()},
            body,
        )
        answer = self.server.handle(request)
        if isinstance(answer, Drop):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.write(answer)

    def write(self, response: Response, close: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
