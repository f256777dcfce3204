"""The HTTP sessions cdp_bridge sends its requests through: pooled, with cdp_bridge's User-Agent.

A ``requests.Session`` keeps its connections open between requests, so a request to a host it
has talked to before costs no new TCP and TLS handshake. A session is not safe to share between
threads, and a connection must never be shared by two processes after a fork:
``thread_session()`` gives each process and thread its own.
"""

from __future__ import annotations

import os
import threading

import requests
from requests.adapters import HTTPAdapter

from cdp_bridge import USER_AGENT

_sessions = threading.local()


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
