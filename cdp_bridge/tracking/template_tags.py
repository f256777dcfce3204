"""The tracking half of ``{% load cdp %}``: Raptor's script and its events.

* ``{% cdp_tracking_script %}``: Raptor's head and main script, gated by consent;
* ``{% cdp_track_event "visit" product %}``: one tracking event, rendered as Raptor's JavaScript
  call, or sent from the server when the scope's ``tracking.tracking_type`` is ``server``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django import template
from django.http import HttpRequest
from django.template.base import FilterExpression, Parser, Token, Variable
from django.template.context import Context
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from cdp_bridge import conf
from cdp_bridge.conf import ScopeSettings
from cdp_bridge.exceptions import TrackingEventError
from cdp_bridge.tracking.events import EVENT_TYPES, check_event, event_parameters
from cdp_bridge.tracking.server_side import track
from cdp_bridge.tracking.user_id import tracked_user_id

register = template.Library()
logger = logging.getLogger("cdp_bridge.tracking")

# JSON is a JavaScript literal; these keep it from closing the <script> element it sits in.
SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
# The argument of {% cdp_track_event %} that is not an event value: the visitor's consent, which
# an event sent from the server needs (in the browser, the script's consent gating applies).
CONSENTED = "consented"


@register.simple_tag(takes_context=True)
def cdp_tracking_script(context: Context, consented: bool = False) -> SafeString:
    """Raptor's head script (the ``window.raptor`` queue) and main script, gated by consent.

    With ``tracking.consent_required`` the main script loads only once the page dispatches
    ``document.dispatchEvent(new CustomEvent("enableTracking"))`` (Ibexa's connector does the
    same), or at once when ``consented`` says consent is already known. Events are queued
    before that, and nothing leaves the browser.
    """
    request = context.get("request")
    scope = _scope(request)
    if not scope.tracks_visitors:
        return SafeString("")
    tracking = scope.tracking
    ruid = tracked_user_id(_visitor(context, request), scope)
    nonce = _csp_nonce(context, request)
    return mark_safe(  # noqa: S308 - the template escapes every value it is given
        render_to_string(
            "cdp_bridge/tracking_script.html",
            {
                "customer_id": script_json(str(scope.account_number)),
                "ruid": script_json(ruid) if ruid else None,
                "script_url": script_json(tracking.script_url),
                "load_now": consented or not tracking.consent_required,
                "nonce": nonce,
                "nonce_json": script_json(nonce) if nonce else None,
            },
        )
    )


class TrackEventNode(template.Node):
    """One event: ``raptor.push("trackEvent", {...})``, or a request from the server."""

    def __init__(
        self,
        event_type: FilterExpression,
        item: FilterExpression | None,
        values: dict[str, FilterExpression],
        consented: FilterExpression | None,
    ) -> None:
        self.event_type = event_type
        self.item = item
        self.values = values
        self.consented = consented

    def render(self, context: Context) -> SafeString:
        request = context.get("request")
        scope = _scope(request)
        if not scope.tracks_visitors:
            return SafeString("")
        event_type = self.event_type.resolve(context)
        item = self.item.resolve(context) if self.item else None
        user = _visitor(context, request)
        values = {name: value.resolve(context) for name, value in self.values.items()}
        try:
            if scope.tracking.tracking_type == "server":
                track(
                    event_type,
                    item,
                    request=request if isinstance(request, HttpRequest) else None,
                    scope=scope,
                    user=user,
                    consented=bool(self.consented and self.consented.resolve(context)),
                    **values,
                )
                return SafeString("")
            parameters = event_parameters(scope, event_type, item, user=user, **values)
        except TrackingEventError as error:
            # A type from a variable is only known now: the page renders, the event is left out
            # (a literal type is checked when the template is compiled).
            logger.warning("{%% cdp_track_event %%} left out an event: %s", error)
            return SafeString("")
        return mark_safe(  # noqa: S308 - the parameters are escaped by script_json
            render_to_string(
                "cdp_bridge/track_event.html",
                {"parameters": script_json(parameters), "nonce": _csp_nonce(context, request)},
            )
        )


@register.tag("cdp_track_event")
def do_track_event(parser: Parser, token: Token) -> TrackEventNode:
    """``{% cdp_track_event "visit" product price=offer.price consented=visitor_consented %}``."""
    bits = token.split_contents()[1:]
    usage = (
        f"'cdp_track_event' takes an event type ({', '.join(EVENT_TYPES)}), then optionally the "
        "product or content it is about, then name=value pairs"
    )
    positional = [bit for bit in bits if "=" not in bit]
    if not positional or len(positional) > 2 or bits[: len(positional)] != positional:
        example = '{% cdp_track_event "visit" product %}'
        raise template.TemplateSyntaxError(f"{usage}, e.g. {example}.")
    values: dict[str, FilterExpression] = {}
    for bit in bits[len(positional) :]:
        name, _, expression = bit.partition("=")
        if not name.isidentifier() or name in values:
            raise template.TemplateSyntaxError(f"{usage}; {bit!r} is not one.")
        values[name] = parser.compile_filter(expression)
    consented = values.pop(CONSENTED, None)
    event_type = parser.compile_filter(positional[0])
    if not isinstance(event_type.var, Variable) and not event_type.filters:
        try:
            check_event(event_type.var, values)
        except TrackingEventError as error:
            raise template.TemplateSyntaxError(f"'cdp_track_event': {error}") from None
    item = parser.compile_filter(positional[1]) if len(positional) == 2 else None
    return TrackEventNode(event_type, item, values, consented)


def script_json(value: Any) -> SafeString:
    """``value`` as a JavaScript literal that is safe inside a ``<script>`` element."""
    text = json.dumps(value, separators=(",", ":")).translate(SCRIPT_ESCAPES)
    return mark_safe(text)  # noqa: S308


def _scope(request: Any) -> ScopeSettings:
    return conf.scope_for_request(request) if isinstance(request, HttpRequest) else conf.get_scope()


def _visitor(context: Context, request: Any) -> Any:
    """The visitor's user: the request's, else the template's ``user``."""
    return getattr(request, "user", None) or context.get("user")


def _csp_nonce(context: Context, request: Any) -> str | None:
    """The page's CSP nonce: ``csp_nonce`` in the context, or django-csp's ``request.csp_nonce``."""
    nonce = context.get("csp_nonce") or getattr(request, "csp_nonce", None)
    return str(nonce) if nonce else None
