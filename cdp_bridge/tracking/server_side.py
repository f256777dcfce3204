"""Server-side tracking: events sent to Raptor from the server, in the background.

Raptor ("Server-side Tracking", content.raptorservices.com): one GET request per event,
``{server_url}/{account number}.rsa?p1=...&p2=...&coid=<cookie id>&sid=<session id>&ruid=<user id,
base64>``, every parameter URL-encoded. Inside a transaction the request is queued when it
commits, so an order that rolls back is never reported as bought; the queue is sent by
``event_sender``, so nothing waits for Raptor. ``{% cdp_track_event %}`` sends its events this
way when the scope's ``tracking.tracking_type`` is ``server``.
"""

from __future__ import annotations

import base64
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction

from cdp_bridge import conf
from cdp_bridge.conf import ScopeSettings
from cdp_bridge.tracking.event_sender import EventSender
from cdp_bridge.tracking.events import event_parameters
from cdp_bridge.tracking.user_id import tracked_user_id

if TYPE_CHECKING:
    from django.http import HttpRequest

    from cdp_bridge.segmentation import AnyUser

logger = logging.getLogger("cdp_bridge.tracking")

sender = EventSender()


def track(
    event_type: str,
    item: object = None,
    *,
    request: HttpRequest | None = None,
    scope: str | ScopeSettings | None = None,
    user: AnyUser | None = None,
    cookie_id: str | None = None,
    session_id: str | None = None,
    consented: bool = False,
    **values: Any,
) -> bool:
    """Send one tracking event from the server; False when nothing is sent.

    ``event_type``, ``item`` and ``values`` are those of ``{% cdp_track_event %}``. The visitor
    comes from ``request`` (its user and Raptor cookie) or is given: a payment provider's
    callback is not the visitor's request, so pass the ``user`` and ``cookie_id`` saved with the
    order. Nothing is sent when the scope does not track, nor, with ``tracking.consent_required``,
    unless ``consented`` says the visitor agreed to tracking.
    """
    settings = _scope_of(scope, request)
    if not settings.tracks_visitors:
        return False
    tracking = settings.tracking
    if request is not None:
        user = user or getattr(request, "user", None)
        cookie_id = cookie_id or request.COOKIES.get(tracking.cookie_name)
    parameters = event_parameters(settings, event_type, item, user=user, **values)
    if tracking.consent_required and not consented:
        logger.debug(
            "A %r event was not sent: the visitor has not consented to tracking.", event_type
        )
        return False
    identities = {"coid": cookie_id, "sid": session_id, "ruid": _ruid(user, settings)}
    parameters |= {name: value for name, value in identities.items() if value}
    url = f"{tracking.server_url.rstrip('/')}/{settings.account_number}.rsa"
    send = partial(sender.submit, url, parameters, event_type)
    # Outside a transaction there is nothing to wait for, and asking the connection whether it
    # autocommits (as on_commit does) would open one: a page that tracks needs no database.
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(send)
    else:
        send()
    return True


def flush(timeout: float | None = None) -> bool:
    """Wait until every queued event has been sent (for scripts that exit, and tests)."""
    return sender.flush(timeout)


def _scope_of(scope: str | ScopeSettings | None, request: HttpRequest | None) -> ScopeSettings:
    if isinstance(scope, ScopeSettings):
        return scope
    if scope is not None:
        return conf.get_scope(scope)
    if request is not None:
        return conf.scope_for_request(request)
    return conf.get_scope()


def _ruid(user: AnyUser | None, scope: ScopeSettings) -> str | None:
    # Raptor: "ruid - a base64 encoded userid".
    user_id = tracked_user_id(user, scope)
    return base64.b64encode(user_id.encode()).decode() if user_id else None
