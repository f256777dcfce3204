"""The dashboard's place in the admin: a row in the app's section, its URL, who may see it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _

from cdp_bridge import conf
from cdp_bridge.dashboard.figures import WINDOW_DAYS, scope_figures
from cdp_bridge.dashboard.page import scope_page
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.models import Dashboard, ExportRun, Segment, WebhookDelivery

SHOWN_MODELS: tuple[type[Model], ...] = (ExportRun, WebhookDelivery, Segment)
TEMPLATE = "admin/cdp_bridge/dashboard.html"


def can_view(request: HttpRequest, model: type[Model]) -> bool:
    """What the model's own admin allows: the view permission, or the change permission."""
    opts = model._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The CDP dashboard, for staff who may view export runs, webhook deliveries and segments."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return all(can_view(request, model) for model in SHOWN_MODELS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_view), name=name)]

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("CDP dashboard"),
            "opts": self.opts,
            "window_days": WINDOW_DAYS,
        }
        try:
            scopes = conf.cdp_settings().scopes
        except ConfigurationError as error:
            context["problem"] = _(
                "The CDP configuration has a problem, so there is nothing to show: %(error)s "
                "Run manage.py check to see every problem."
            ) % {"error": error}
            return TemplateResponse(request, TEMPLATE, context)
        name = request.GET.get("scope") or (
            "default" if "default" in scopes else next(iter(scopes))
        )
        context["scopes"] = list(scopes)
        context["scope"] = name
        if name not in scopes:
            context["problem"] = _(
                "There is no scope %(scope)r. Choose one of the scopes the configuration declares."
            ) % {"scope": name}
            return TemplateResponse(request, TEMPLATE, context, status=404)
        context["page"] = scope_page(scope_figures(scopes[name]))
        return TemplateResponse(request, TEMPLATE, context)
