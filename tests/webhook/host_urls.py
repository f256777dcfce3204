"""A host site with an API of its own beside the webhook, for ``test_openapi.py``."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class ProductsView(APIView):
    def get(self, request):
        return Response([])


urlpatterns = [
    path("api/products", ProductsView.as_view()),
    path("", include("cdp_bridge.urls")),
]
