"""Personalisation: pages that change with the visitor's segments.

* ``visitor_segments``: a visitor's segments, read once per request, lazily or awaited;
* ``audience_api``: the CDP's audience API, which gives anonymous visitors their segments;
* ``middleware``: ``request.cdp_segments`` and ``request.acdp_segments()`` on every request
  (users name it ``cdp_bridge.middleware.SegmentsMiddleware``);
* ``page_cache``: whole pages cached per set of segments;
* ``template_tags``: ``in_segment`` and ``{% cdp_targeting %}``, loaded by ``{% load cdp %}``.

What a site uses is importable from here:
``from cdp_bridge.personalisation import cache_page_by_segments, segments_of``.
"""

from cdp_bridge.personalisation.page_cache import cache_page_by_segments
from cdp_bridge.personalisation.visitor_segments import (
    VisitorSegments,
    asegments_for_request,
    segments_of,
)

__all__ = ["VisitorSegments", "asegments_for_request", "cache_page_by_segments", "segments_of"]
