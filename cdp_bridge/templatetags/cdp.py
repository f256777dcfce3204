"""``{% load cdp %}``: segment-aware templates and Raptor's tracking tags.

* ``user|in_segment:"cat-owners"`` (or ``request|in_segment:...``, which also knows anonymous
  visitors' segments from the CDP);
* ``{% cdp_targeting %}{% variation "a" "b" %}...{% fallback %}...{% endcdp_targeting %}``:
  the first variation whose segments the visitor is in (any of them), else the fallback;
* ``{% cdp_tracking_script %}``: Raptor's head and main script, gated by consent;
* ``{% cdp_track_event "visit" product %}``: one tracking event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.template.base import FilterExpression, NodeList, Parser, TextNode, Token, Variable
from django.template.context import Context
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from cdp_bridge import conf
from cdp_bridge.conf import ScopeSettings
from cdp_bridge.exceptions import TrackingEventError
from cdp_bridge.personalisation import segment_identifier, segments_of
from cdp_bridge.tracking import EVENT_TYPES, check_event, event_parameters, tracked_user_id

register = template.Library()
logger = logging.getLogger("cdp_bridge.tracking")

TARGETING_TAGS = ("variation", "fallback", "endcdp_targeting")
# JSON is a JavaScript literal; these keep it from closing the <script> element it sits in.
SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


# -- segments ------------------------------------------------------------------------------------


@register.filter
def in_segment(subject: Any, segment: Any) -> bool:
    """Whether a user (or a request's visitor) is in a segment; false for unknown segments."""
    return segment_identifier(segment) in segments_of(subject)


class TargetingNode(template.Node):
    """Renders the first variation whose segments the visitor is in, else the fallback."""

    def __init__(
        self,
        subject: FilterExpression | None,
        variations: list[tuple[list[FilterExpression], NodeList]],
        fallback: NodeList,
    ) -> None:
        self.subject = subject
        self.variations = variations
        self.fallback = fallback
        self.nodelist = NodeList(
            [node for _, nodelist in variations for node in nodelist] + list(fallback)
        )

    def render(self, context: Context) -> SafeString:
        if self.subject is not None:
            segments = segments_of(self.subject.resolve(context))
        elif isinstance(context.get("request"), HttpRequest):
            segments = segments_of(context["request"])
        else:
            raise ImproperlyConfigured(
                "{% cdp_targeting %} needs the request in the template context: add "
                "'django.template.context_processors.request' to your template context "
                "processors, or write {% cdp_targeting for user %}."
            )
        for wanted, nodelist in self.variations:
            identifiers = set().union(*(_resolve_segments(arg, context) for arg in wanted))
            if identifiers & segments.identifiers:
                return nodelist.render(context)
        return self.fallback.render(context)


@register.tag("cdp_targeting")
def do_targeting(parser: Parser, token: Token) -> TargetingNode:
    """``{% cdp_targeting [for user] %}``, variations, a fallback: Ibexa's Targeting block."""
    bits = token.split_contents()
    if len(bits) == 3 and bits[1] == "for":
        subject: FilterExpression | None = parser.compile_filter(bits[2])
    elif len(bits) == 1:
        subject = None
    else:
        raise template.TemplateSyntaxError(
            "'cdp_targeting' takes no arguments (the visitor of the request), or 'for <user or "
            "request>'; put the segments on its {% variation %} tags."
        )
    before = parser.parse(TARGETING_TAGS)
    if any(not isinstance(node, TextNode) or node.s.strip() for node in before):
        raise template.TemplateSyntaxError(
            "'cdp_targeting' holds only {% variation %} and {% fallback %} blocks: move the "
            "content before the first variation into one of them."
        )
    variations: list[tuple[list[FilterExpression], NodeList]] = []
    fallback: NodeList | None = None
    token = parser.next_token()
    while token.contents != "endcdp_targeting":
        bits = token.split_contents()
        if bits[0] == "variation":
            if fallback is not None:
                raise template.TemplateSyntaxError(
                    "'cdp_targeting': a {% variation %} cannot follow the {% fallback %}, which "
                    "comes last."
                )
            if len(bits) < 2:
                raise template.TemplateSyntaxError(
                    "'variation' takes one or more segment identifiers: {% variation "
                    '"cat-owners" "dog-owners" %}.'
                )
            wanted = [parser.compile_filter(bit) for bit in bits[1:]]
            variations.append((wanted, parser.parse(TARGETING_TAGS)))
        else:
            if fallback is not None or len(bits) > 1:
                raise template.TemplateSyntaxError(
                    "'cdp_targeting' takes one {% fallback %}, with no arguments."
                )
            fallback = parser.parse(TARGETING_TAGS)
        token = parser.next_token()
    if not variations:
        raise template.TemplateSyntaxError(
            "'cdp_targeting' needs at least one {% variation \"segment-identifier\" %}."
        )
    return TargetingNode(subject, variations, fallback or NodeList())


def _resolve_segments(expression: FilterExpression, context: Context) -> set[str]:
    """A variation argument's segment identifiers: one identifier or Segment, or several."""
    value = expression.resolve(context)
    if isinstance(value, Iterable) and not isinstance(value, str):
        return {segment_identifier(segment) for segment in value}
    return {segment_identifier(value)} if value not in (None, "") else set()


# -- tracking ------------------------------------------------------------------------------------


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
    tracking = scope.tracking
    if not tracking.enabled or scope.account_number is None:
        return SafeString("")
    user = getattr(request, "user", None) or context.get("user")
    ruid = tracked_user_id(user, scope)
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
    """One ``raptor.push("trackEvent", {...})`` with the event's Raptor parameters."""

    def __init__(
        self,
        event_type: FilterExpression,
        item: FilterExpression | None,
        values: dict[str, FilterExpression],
    ) -> None:
        self.event_type = event_type
        self.item = item
        self.values = values

    def render(self, context: Context) -> SafeString:
        request = context.get("request")
        scope = _scope(request)
        if not scope.tracking.enabled or scope.account_number is None:
            return SafeString("")
        event_type = self.event_type.resolve(context)
        try:
            parameters = event_parameters(
                scope,
                event_type,
                self.item.resolve(context) if self.item else None,
                user=getattr(request, "user", None) or context.get("user"),
                **{name: value.resolve(context) for name, value in self.values.items()},
            )
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
    """``{% cdp_track_event "visit" product price=offer.price %}``."""
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
    event_type = parser.compile_filter(positional[0])
    if not isinstance(event_type.var, Variable) and not event_type.filters:
        try:
            check_event(event_type.var, values)
        except TrackingEventError as error:
            raise template.TemplateSyntaxError(f"'cdp_track_event': {error}") from None
    item = parser.compile_filter(positional[1]) if len(positional) == 2 else None
    return TrackEventNode(event_type, item, values)


def script_json(value: Any) -> SafeString:
    """``value`` as a JavaScript literal that is safe inside a ``<script>`` element."""
    text = json.dumps(value, separators=(",", ":")).translate(SCRIPT_ESCAPES)
    return mark_safe(text)  # noqa: S308


def _scope(request: Any) -> ScopeSettings:
    return conf.scope_for_request(request) if isinstance(request, HttpRequest) else conf.get_scope()


def _csp_nonce(context: Context, request: Any) -> str | None:
    """The page's CSP nonce: ``csp_nonce`` in the context, or django-csp's ``request.csp_nonce``."""
    nonce = context.get("csp_nonce") or getattr(request, "csp_nonce", None)
    return str(nonce) if nonce else None
