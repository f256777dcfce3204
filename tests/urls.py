from django.contrib import admin
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("personalised/", views.personalised),
    path("plain/", views.plain),
    path("segments/", views.segments),
    path("async-segments/", views.segments_async),
    path("cached-banner/", views.cached_banner),
    path("", include("cdp_bridge.urls")),
]
