"""The HTTP sessions cdp_bridge sends its requests through, and how their answers are shown.

Sessions are pooled, with cdp_bridge's User-Agent.
A ``requests.Session`` keeps its connections open between requests, so a request to a host it
has talked to before costs no new TCP and TLS handshake. A session is not safe to share between
threads, and a connection must never be shared by two processes after a fork:
``thread_session()`` gives each process and thread its own.

An answer's body shown in an error goes through ``body_excerpt()``: a proxy's HTML error page
becomes one readable line, not a blob of markup across the terminal.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from html.parser import HTMLParser

import requests
from requests.adapters import HTTPAdapter

from cdp_bridge import USER_AGENT

_sessions = threading.local()
EXCERPT_CHARS = 200
READ_CHARS = 64 * 1024  # of a body, for its excerpt: enough for any error page's words


def new_session() -> requests.Session:
    """A session with cdp_bridge's User-Agent that keeps one connection open per host.

    It never retries by itself: each caller decides what a failure means. One connection per
    host is enough for a session that one thread uses, one request at a time.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=1, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def thread_session() -> requests.Session:
    """The session of the calling process and thread, made on first use."""
    session: requests.Session | None = getattr(_sessions, "session", None)
    if session is None or _sessions.pid != os.getpid():  # a forked child makes its own
        session = new_session()
        _sessions.session, _sessions.pid = session, os.getpid()
    return session


def body_excerpt(
    response: requests.Response,
    limit: int = EXCERPT_CHARS,
    replacements: Mapping[str, str] | None = None,
) -> str:
    """The start of an answer's body on one line, for an error message; "" if it is empty.

    An HTML page (a proxy's ``502 Bad Gateway``) is reduced to its text: tags, scripts and
    styles dropped, entities decoded. Whitespace is collapsed, ``replacements`` made (a secret
    the answer repeats, masked: before the cut, so that no part of it is left), and the text
    cut to ``limit`` characters, ending with "…" where it was cut.
    """
    text = response.text[:READ_CHARS]
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type or text.lstrip().startswith("<"):
        text = _HtmlText.of(text)
    text = " ".join(text.split())
    for secret, shown in (replacements or {}).items():
        if secret:
            text = text.replace(secret, shown)
    return text if len(text) <= limit else f"{text[: limit - 1].rstrip()}…"


class _HtmlText(HTMLParser):
    """The text a browser would show of an HTML page, in one string."""

    HIDDEN = frozenset({"script", "style", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden = 0
        self.in_title = False

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        parser.close()
        body = " ".join(" ".join(parser.parts).split())
        title = " ".join(" ".join(parser.title).split())
        # nginx and most proxies repeat the title in the body: say it once.
        return body if not title or title in body else f"{title}: {body}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in self.HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden:
            self.parts.append(data)
