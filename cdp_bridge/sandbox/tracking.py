"""Tracked events: Raptor's tracking request, from the server (``track()``) or the browser.

*(Raptor, "Server-side Tracking")* ``GET {server_url}/{account}.rsa?p1=<event type>&p2=...&
coid=<cookie id>&sid=<session id>&ruid=<base64 of the user id>``. The sandbox's browser script
(``raptor.js``, loaded by ``{% cdp_tracking_script %}`` when ``tracking.script_url`` points at the
sandbox) sends the same request for each ``trackEvent`` and ``setRuid`` it finds in the page's
``window.raptor`` queue, with the visitor's ``rsa`` cookie as ``coid``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BROWSER_SCRIPT = Path(__file__).with_name("raptor.js")
# Sent by the sandbox's browser script only, so that the UI can say where an event came from.
SCRIPT_MARKER = "rsandbox"
# A 1x1 transparent GIF: what a tracking pixel answers.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
TRACKING_PATH = re.compile(r"/(?P<account>\d+)\.rsa")
MAX_VALUE = 2000


@dataclass(frozen=True)
class TrackedEvent:
    """One tracking request: the event (empty for a bare ``setRuid``) and whose it is."""

    account: str
    event_type: str
    params: dict[str, str]
    cookie_id: str | None
    user_id: str | None
    source: str


def parse_tracking(account: str, query: Mapping[str, str]) -> TrackedEvent:
    """The event a tracking request carries."""
    params = {
        key: value[:MAX_VALUE]
        for key, value in query.items()
        if re.fullmatch(r"p[1-9][0-9]{0,2}", key)
    }
    user_id = _ruid(query.get("ruid")) or params.get("p7") or None
    return TrackedEvent(
        account=account,
        event_type=params.get("p1", "")[:100],
        params=params,
        cookie_id=(query.get("coid") or "")[:100] or None,
        user_id=user_id,
        source="browser" if query.get(SCRIPT_MARKER) else "server",
    )


def _ruid(value: str | None) -> str | None:
    # Raptor: "ruid - a base64 encoded userid".
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")[:255] or None
    except (binascii.Error, UnicodeDecodeError):
        return None
