"""What the activation webhook keeps: every delivery, and snapshot parts waiting for the rest."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookDelivery(models.Model):
    """One request the CDP's activation made to the webhook, and what became of it.

    ``idempotency_key`` (the ``X-CDP-Delivery-Id``, or the body's hash) is held by the one
    delivery that was accepted with it; a resend is stored as a duplicate pointing at that
    delivery, and a failed delivery gives the key up so that the CDP's retry can be applied.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        APPLIED = "applied", _("applied")
        DUPLICATE = "duplicate", _("duplicate")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected")

    client_id = models.CharField(_("client id"), max_length=255)
    scope = models.CharField(_("scope"), max_length=255)
    segment_group_identifier = models.CharField(
        _("segment group identifier"), max_length=255, blank=True
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    delivery_id = models.CharField(
        _("delivery id"),
        max_length=255,
        blank=True,
        help_text=_("The X-CDP-Delivery-Id header, when the CDP sent one."),
    )
    body_hash = models.CharField(_("body hash"), max_length=64, blank=True)
    # NULL, not "", for deliveries without the key: NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        _("idempotency key"),
        max_length=255,
        null=True,
        blank=True,
        editable=False,
        help_text=_("Held by the delivery accepted with this id or body; empty for the others."),
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    member_count = models.PositiveIntegerField(
        _("members"), default=0, help_text=_("Person identifiers in the delivery.")
    )
    body = models.TextField(_("body"), blank=True, help_text=_("The JSON body, decompressed."))
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["client_id", "idempotency_key"], name="cdp_delivery_unique_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="queued"),
                name="cdp_delivery_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id or self.body_hash[:12]} ({self.get_status_display()})"


class SnapshotPart(models.Model):
    """One part of a full snapshot that arrives in several requests; applied when all are in."""

    group = models.ForeignKey("cdp_bridge.SegmentGroup", on_delete=models.CASCADE, related_name="+")
    audience_identifier = models.CharField(_("audience"), max_length=255)
    snapshot_id = models.CharField(_("snapshot id"), max_length=255)
    part = models.PositiveIntegerField(_("part"))
    parts = models.PositiveIntegerField(_("parts"))
    audience = models.JSONField(
        _("audience"), help_text=_("The audience as this part delivered it, members included.")
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("snapshot part")
        verbose_name_plural = _("snapshot parts")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "audience_identifier", "snapshot_id", "part"],
                name="cdp_snapshot_unique_part",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audience_identifier} snapshot {self.snapshot_id} {self.part}/{self.parts}"
