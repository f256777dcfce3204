"""The cdp_bridge Django app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CdpBridgeConfig(AppConfig):
    name = "cdp_bridge"
    verbose_name = _("CDP bridge")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks, and the receiver that re-reads settings on change.
        from cdp_bridge import checks, conf, distribution  # noqa: F401
