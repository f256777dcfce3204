"""The admin's CDP dashboard has no table of its own: a proxy model gives it a row in the index."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cdp_bridge.models.segment_sizes import SegmentSize


class Dashboard(SegmentSize):
    """The admin's CDP dashboard (``cdp_bridge.dashboard``), listed with the app's models."""

    class Meta:
        proxy = True
        default_permissions = ()  # who may see it follows from the models it shows
        verbose_name = _("CDP dashboard")
        verbose_name_plural = _("CDP dashboard")
