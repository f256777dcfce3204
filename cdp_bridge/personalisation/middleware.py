"""SegmentsMiddleware: the visitor's segments on every request, loaded on first use.

Users name it by its public path, ``cdp_bridge.middleware.SegmentsMiddleware``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers

from cdp_bridge.personalisation.visitor_segments import RequestSegments, attach_segments

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class SegmentsMiddleware:
    """Give every request a lazy ``cdp_segments`` and ``acdp_segments()``; after authentication.

    Nothing is read until a template or view asks, and then once for the whole request. A
    response that used the segments varies with the visitor's cookies (the session, or the CDP's
    visitor cookie), so it says ``Vary: Cookie`` to every cache in front of the site. It runs
    as it is under WSGI and ASGI alike (Django's sync and async middleware), so an async stack
    is not switched to a thread on its account.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        segments = attach_segments(request)
        response = cast(GetResponse, self.get_response)(request)
        return _vary_if_used(response, segments)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        segments = attach_segments(request)
        response = await cast(AsyncGetResponse, self.get_response)(request)
        return _vary_if_used(response, segments)


def _vary_if_used(response: HttpResponseBase, segments: RequestSegments) -> HttpResponseBase:
    if segments.loaded is not None:
        patch_vary_headers(response, ("Cookie",))
    return response
