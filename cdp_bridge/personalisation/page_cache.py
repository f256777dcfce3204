"""Caching whole pages that vary by segment: one cached copy per set of segments.

Django's cache keys a page by URL and by the request headers its response ``Vary``s on. The
visitor's segments are not a request header, so ``cache_page_by_segments`` puts their stable
hash into one (``X-CDP-Segments``) before Django's ``cache_page`` looks, and varies on it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.cache import cache_page
from django.views.decorators.vary import vary_on_headers

from cdp_bridge.personalisation.visitor_segments import segments_for_request

SEGMENTS_HEADER = "X-CDP-Segments"
SEGMENTS_META_KEY = "HTTP_X_CDP_SEGMENTS"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def cache_page_by_segments(
    timeout: float, *, cache: str | None = None, key_prefix: str | None = None
) -> Callable[[View], View]:
    """Cache a view's page per set of segments, for anonymous visitors; like ``cache_page``.

    Logged-in users always get a fresh page: theirs carries their own user id (``setRuid``),
    name and CSRF token, which must never be served to someone else. Responses are marked
    ``private`` with ``Vary: Cookie``, because a cache in front of the site cannot know a
    visitor's segments.
    """

    def decorator(view: View) -> View:
        cached_view = cache_page(timeout, cache=cache, key_prefix=key_prefix)(
            vary_on_headers(SEGMENTS_HEADER)(view)
        )

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.user.is_authenticated:
                response = view(request, *args, **kwargs)
            else:
                request.META[SEGMENTS_META_KEY] = segments_for_request(request).cache_key
                response = cached_view(request, *args, **kwargs)
            patch_cache_control(response, private=True)
            patch_vary_headers(response, ("Cookie",))
            return response

        return wrapper  # type: ignore[return-value]

    return decorator
