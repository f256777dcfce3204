"""Pages that personalise by segment, as a site's own views would."""

from itertools import count

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from cdp_bridge.personalisation import cache_page_by_segments

renders = count()


def personalised(request: HttpRequest) -> HttpResponse:
    """Asks for the visitor's segments many times: from the view and from the template."""
    in_pets = "cat-owners" in request.cdp_segments
    return render(request, "testapp/personalised.html", {"in_pets": in_pets})


def plain(request: HttpRequest) -> HttpResponse:
    """Never asks for segments."""
    return HttpResponse(f"hello {request.user}")


def segments(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"segments": list(request.cdp_segments)})


@cache_page_by_segments(60)
def cached_banner(request: HttpRequest) -> HttpResponse:
    """A page cached per set of segments; each real render gets a new number."""
    return render(request, "testapp/banner.html", {"render": next(renders)})


async def segments_async(request: HttpRequest) -> HttpResponse:
    """An async view: awaits the visitor's segments, then renders a template that asks again."""
    segments = await request.acdp_segments()
    return render(request, "testapp/async_segments.html", {"awaited": len(segments)})
