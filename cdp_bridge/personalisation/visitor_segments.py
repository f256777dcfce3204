"""Which segments a visitor is in: read at most once per request, for templates and views.

A logged-in user's segments are the SegmentMembership rows the activation webhook writes; an
anonymous visitor's come from the CDP's audience API, by the visitor's Raptor cookie. Both are
segment identifiers (the CDP's audience ids), so templates test them the same way.

A request carries them as ``request.cdp_segments`` (lazy, for sync code and templates) and
``await request.acdp_segments()`` (for async views): one load serves both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from cdp_bridge import conf
from cdp_bridge.models import Segment
from cdp_bridge.personalisation.audience_api import visitor_audiences
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
    return VisitorSegments(visitor_audiences(scope, cookie_id))


class RequestSegments:
    """The segments of one request's visitor, loaded on first use, from sync or async code."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.loaded: VisitorSegments | None = None

    def get(self) -> VisitorSegments:
        """The segments, loaded now if nothing has asked for them yet (sync code)."""
        if self.loaded is None:
            self.loaded = load_visitor_segments(self.request)
        return self.loaded

    async def aget(self) -> VisitorSegments:
        """The segments, for async code: ``await request.acdp_segments()``."""
        # The database and the audience API are blocking: they run on Django's thread for the
        # request (thread_sensitive), where the ORM may be used.
        if self.loaded is None:
            self.loaded = await sync_to_async(load_visitor_segments)(self.request)
        return self.loaded


def attach_segments(request: HttpRequest) -> RequestSegments:
    """Give ``request`` a lazy ``cdp_segments`` and an ``acdp_segments()`` sharing one load."""
    segments = RequestSegments(request)
    request.cdp_segments = SimpleLazyObject(segments.get)  # type: ignore[attr-defined]
    request.acdp_segments = segments.aget  # type: ignore[attr-defined]
    return segments


def segments_for_request(request: HttpRequest) -> VisitorSegments:
    """``request.cdp_segments``, also where SegmentsMiddleware is not installed."""
    if not hasattr(request, "cdp_segments"):
        attach_segments(request)
    return cast(VisitorSegments, request.cdp_segments)  # type: ignore[attr-defined]


async def asegments_for_request(request: HttpRequest) -> VisitorSegments:
    """``await request.acdp_segments()``, also where SegmentsMiddleware is not installed."""
    if not hasattr(request, "acdp_segments"):
        attach_segments(request)
    segments: VisitorSegments = await request.acdp_segments()  # type: ignore[attr-defined]
    return segments


def segments_of(subject: Any) -> VisitorSegments:
    """The segments of a request, a user, or VisitorSegments as they are; none for anything else."""
    if isinstance(subject, VisitorSegments):
        return subject
    if isinstance(subject, HttpRequest):
        return segments_for_request(subject)
    if isinstance(subject, AbstractBaseUser | AnonymousUser):
        return segments_of_user(subject)
    return VisitorSegments()
