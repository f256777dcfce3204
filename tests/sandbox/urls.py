"""A page with Raptor's tracking script and one event, for the sandbox's browser test."""

from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.urls import include, path

PAGE = Template(
    "{% load cdp %}<!doctype html><html><head><title>Tracked</title>"
    "{% cdp_tracking_script consented=True %}</head><body><h1>A laptop</h1>"
    '{% cdp_track_event "visit" "SKU-1" product_name="Nimbus" %}</body></html>'
)


def tracked_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.render(RequestContext(request)))


urlpatterns = [path("tracked/", tracked_page), path("", include("tests.urls"))]
