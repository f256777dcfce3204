"""SegmentsMiddleware: ``request.cdp_segments``, the visitor's segments, loaded on first use."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty

from cdp_bridge.personalisation import load_visitor_segments


class SegmentsMiddleware:
    """Give every request a lazy ``cdp_segments``; place it after AuthenticationMiddleware.

    Nothing is read until a template or view asks, and then once for the whole request. A
    response that used the segments varies with the visitor's cookies (the session, or the CDP's
    visitor cookie), so it says ``Vary: Cookie`` to every cache in front of the site.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        segments = SimpleLazyObject(partial(load_visitor_segments, request))
        request.cdp_segments = segments  # type: ignore[attr-defined]
        response = self.get_response(request)
        if segments._wrapped is not empty:
            patch_vary_headers(response, ("Cookie",))
        return response
