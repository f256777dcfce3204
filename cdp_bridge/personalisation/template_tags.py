"""The segment half of ``{% load cdp %}``: the ``in_segment`` filter and the targeting block.

* ``user|in_segment:"cat-owners"`` (or ``request|in_segment:...``, which also knows anonymous
  visitors' segments from the CDP);
* ``{% cdp_targeting %}{% variation "a" "b" %}...{% fallback %}...{% endcdp_targeting %}``:
  the first variation whose segments the visitor is in (any of them), else the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.template.base import FilterExpression, NodeList, Parser, TextNode, Token
from django.template.context import Context
from django.utils.safestring import SafeString

from cdp_bridge.personalisation.visitor_segments import segment_identifier, segments_of

register = template.Library()

TARGETING_TAGS = ("variation", "fallback", "endcdp_targeting")


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
