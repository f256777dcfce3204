"""Which segments a visitor is in: read at most once per request, for templates and views.

A logged-in user's segments are the SegmentMembership rows the activation webhook writes; an
anonymous visitor's come from the CDP's membership API, by the visitor's Raptor cookie. Both are
segment identifiers (the CDP's audience ids), so templates test them the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from cdp_bridge import conf
from cdp_bridge.membership import anonymous_segments
from cdp_bridge.models import Segment
from cdp_bridge.segmentation import user_segments

if TYPE_CHECKING:
    from cdp_bridge.segmentation import AnyUser

USER_CACHE_ATTRIBUTE = "_cdp_segment_identifiers"


@dataclass(frozen=True)
class VisitorSegments:
    """The identifiers of the segments one visitor is in; ``"cat-owners" in segments``."""

    identifiers: frozenset[str] = frozenset()

    def __contains__(self, segment: object) -> bool:
        return segment_identifier(segment) in self.identifiers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.identifiers))

    def __len__(self) -> int:
        return len(self.identifiers)

    @property
    def cache_key(self) -> str:
        """A stable hash of the identifiers: the same set gives the same key in every process.

        Use it wherever a cached response or fragment depends on the visitor's segments.
        """
        text = "\n".join(sorted(self.identifiers))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def segment_identifier(segment: object) -> str:
    """The identifier a segment is known by: a Segment's ``identifier``, else the text given."""
    if isinstance(segment, Segment):
        return segment.identifier
    return "" if segment is None else str(segment)


def segments_of_user(user: AnyUser) -> VisitorSegments:
    """A user's segments, read from the database once and kept on the user object.

    ``request.user`` is one object for the whole request, so this is one query per request
    however many templates and views ask.
    """
    cached = getattr(user, USER_CACHE_ATTRIBUTE, None)
    if cached is None:
        identifiers = user_segments(user).values_list("identifier", flat=True)
        cached = VisitorSegments(frozenset(identifiers))
        if user.is_authenticated:
            setattr(user, USER_CACHE_ATTRIBUTE, cached)
    return cast(VisitorSegments, cached)


def load_visitor_segments(request: HttpRequest) -> VisitorSegments:
    """The segments of a request's visitor: by account when logged in, else by CDP cookie."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return segments_of_user(user)
    scope = conf.scope_for_request(request)
    cookie_id = request.COOKIES.get(scope.tracking.cookie_name)
    return VisitorSegments(anonymous_segments(scope, cookie_id))


def segments_for_request(request: HttpRequest) -> VisitorSegments:
    """``request.cdp_segments``, set by SegmentsMiddleware; loaded here when it is not installed."""
    segments = getattr(request, "cdp_segments", None)
    if segments is None:
        segments = load_visitor_segments(request)
        request.cdp_segments = segments  # type: ignore[attr-defined]
    return cast(VisitorSegments, segments)


def segments_of(subject: Any) -> VisitorSegments:
    """The segments of a request, a user, or VisitorSegments as they are; none for anything else."""
    if isinstance(subject, VisitorSegments):
        return subject
    if isinstance(subject, HttpRequest):
        return segments_for_request(subject)
    if isinstance(subject, AbstractBaseUser | AnonymousUser):
        return segments_of_user(subject)
    return VisitorSegments()
