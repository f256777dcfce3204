"""A loopback HTTP/1.1 server that keeps connections open and counts them, to see reuse.

pytest-httpserver answers in HTTP/1.0 and closes every connection, so it cannot show whether a
client reuses one. This one keeps each connection open until the client closes it.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KeepAliveServer:
    """``with KeepAliveServer(body) as server:`` answers every GET with ``body`` (JSON)."""

    def __init__(self, body=None):
        self.body = json.dumps(body if body is not None else {}).encode()
        self.connections = 0
        self.requests = []  # (path with query, headers), in arrival order
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def _handler(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client decides when to close
            timeout = 10  # an idle connection's thread ends by itself

            def setup(self):
                super().setup()
                with owner.lock:
                    owner.connections += 1

            def do_GET(self):
                with owner.lock:
                    owner.requests.append((self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format, *args):
                pass  # the test reads the counts, not a log

        return Handler
