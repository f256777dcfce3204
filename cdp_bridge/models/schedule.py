"""The run state of each scheduled export: when it last fired, who runs it now, how it went."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScheduleState(models.Model):
    """One row per schedule entry, keyed by what the entry does (kind, scope, interval, options).

    ``last_fire_time`` is the fire time last claimed, so a fire runs once; the lease
    (``lease_owner`` until ``lease_expires_at``) keeps two processes from running the entry
    at once, and lapses when the process holding it dies.
    """

    class Result(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        INTERRUPTED = "interrupted", _("interrupted")

    entry_key = models.CharField(_("entry key"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=20)
    scope = models.CharField(_("scope"), max_length=100)
    interval = models.CharField(_("interval"), max_length=100)
    options = models.CharField(_("options"), max_length=500, blank=True)
    last_fire_time = models.DateTimeField(_("last fire time"))
    lease_owner = models.CharField(_("lease owner"), max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    last_started_at = models.DateTimeField(_("last started at"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished at"), null=True, blank=True)
    last_result = models.CharField(
        _("last result"), max_length=20, choices=Result.choices, blank=True
    )
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("schedule state")
        verbose_name_plural = _("schedule states")

    def __str__(self) -> str:
        return f"{self.kind} {self.interval} {self.options}".strip()

    def shown_result(self, now: datetime) -> str:
        """The last result as it stands: a run whose lease lapsed lost its process."""
        lapsed = self.lease_expires_at is None or self.lease_expires_at < now
        if self.last_result == self.Result.RUNNING and lapsed:
            return str(self.Result.INTERRUPTED)
        return self.last_result
