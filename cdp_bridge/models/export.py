"""The record of every export run: what was sent where, how far it got, and how it ended."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cdp_bridge import signals
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.local_time import local_time
from cdp_bridge.redaction import mask_secret

# A running export renews its heartbeat every minute, whatever it is doing (reading, sending,
# waiting out a Retry-After); one that has not for five minutes lost its process.
HEARTBEAT_EVERY = timedelta(minutes=1)
HEARTBEAT_LAPSE = timedelta(minutes=5)
INTERRUPTED_WITHOUT_A_WORD = (
    "Interrupted: the process running this export stopped without finishing it (killed, or "
    "its machine went down), so its heartbeat stopped. A full export continues with --resume."
)


class ExportRunQuerySet(models.QuerySet["ExportRun"]):
    def of_stream(
        self, kind: str, scope: str, source: str, transport: str, stream_id: str
    ) -> ExportRunQuerySet:
        """The runs that sent one source of a scope to one destination: one CDP stream."""
        return self.filter(
            kind=kind, scope=scope, source=source, transport=transport, stream_id=stream_id
        )

    def full(self) -> ExportRunQuerySet:
        return self.filter(draft=False)

    def mark_interrupted(self, now: datetime | None = None) -> int:
        """Record runs whose process died (their heartbeat lapsed) as interrupted; how many.

        Each sends ``export_finished``: its ending is known now. Runs are marked one by one, so
        that of two processes noticing the same run, only the one that marks it sends it.
        """
        cutoff = (now or timezone.now()) - HEARTBEAT_LAPSE
        lapsed = self.filter(status=ExportRun.Status.RUNNING, heartbeat_at__lt=cutoff)
        marked = 0
        for pk in list(lapsed.values_list("pk", flat=True)):
            if lapsed.filter(pk=pk).update(
                status=ExportRun.Status.INTERRUPTED,
                finished_at=F("heartbeat_at"),
                error=INTERRUPTED_WITHOUT_A_WORD,
            ):
                marked += 1
                run = ExportRun.objects.using(self.db).get(pk=pk)
                signals.export_finished.send_after_commit(ExportRun, run=run)
        return marked


class ExportRun(models.Model):
    """One run of ``stream_<kind>_data``, recorded whether it succeeds or fails.

    ``last_acknowledged_key`` is the primary key of the last row of the last batch the
    destination accepted: ``--resume`` continues after it. A run is ``interrupted`` when it
    was stopped (Ctrl-C, SIGTERM), or when its process died and its heartbeat lapsed.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        INTERRUPTED = "interrupted", _("interrupted")

    kind = models.CharField(
        _("kind"), max_length=10, choices=[(kind, kind) for kind in EXPORT_KINDS]
    )
    scope = models.CharField(_("scope"), max_length=100)
    source = models.CharField(_("source"), max_length=100, blank=True)
    transport = models.CharField(_("transport"), max_length=20, blank=True)
    # A secret like a password to the stream: shown masked everywhere (admin, logs, errors).
    stream_id = models.CharField(_("stream id"), max_length=64, blank=True)
    destination = models.CharField(
        _("destination"),
        max_length=500,
        blank=True,
        help_text=_("Where the batches went: the masked stream, or the directory written."),
    )
    draft = models.BooleanField(_("draft"), default=True)
    since = models.DateTimeField(
        _("since"), null=True, blank=True, help_text=_("Only rows modified after this time.")
    )
    resumed_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resumed_by",
        verbose_name=_("resumed from"),
    )
    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    heartbeat_at = models.DateTimeField(
        _("last heartbeat"),
        default=timezone.now,
        help_text=_("Renewed every minute while the run's process works on it."),
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)
    skipped = models.PositiveBigIntegerField(
        _("skipped"),
        default=0,
        help_text=_("Rows not sent because they have no id (a user without a person identifier)."),
    )
    batches = models.PositiveIntegerField(_("batches"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    error = models.TextField(_("error"), blank=True)
    last_acknowledged_key = models.CharField(_("last acknowledged key"), max_length=255, blank=True)

    objects = ExportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("export run")
        verbose_name_plural = _("export runs")
        indexes = [
            models.Index(
                fields=["kind", "scope", "source", "transport", "stream_id", "draft"],
                name="cdp_exportrun_stream",
            )
        ]

    def __str__(self) -> str:
        mode = "draft" if self.draft else "full"
        return f"{self.kind} ({self.source or '-'}, {mode}) {local_time(self.started_at)}"

    @property
    def masked_stream_id(self) -> str:
        return mask_secret(self.stream_id)

    @property
    def duration(self) -> timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def window_start(self) -> datetime:
        """When the data this run sent was read from: a resumed run counts from the first attempt.

        ``--since last`` exports rows modified after this, so a row changed while a run was
        under way is sent again next time rather than missed.
        """
        first = self
        while first.resumed_from is not None:
            first = first.resumed_from
        return first.started_at
