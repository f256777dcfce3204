"""cdp_bridge's URLs; include them at the site's root so the webhook is at ``/cdp/webhook``.

path("", include("cdp_bridge.urls")),
"""

from django.urls import path

from cdp_bridge.webhook.views import SchemaView, TokenView, WebhookView

app_name = "cdp_bridge"

urlpatterns = [
    path("cdp/webhook", WebhookView.as_view(), name="webhook"),
    path("cdp/webhook/token", TokenView.as_view(), name="webhook-token"),
    path("cdp/webhook/schema", SchemaView.as_view(), name="webhook-schema"),
]
