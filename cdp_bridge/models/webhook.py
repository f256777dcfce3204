"""What the activation webhook keeps: every delivery, the signatures it was accepted with, and
snapshot parts waiting for the rest."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_DELIVERY_ID_LENGTH = 255


class WebhookDelivery(models.Model):
    """One request the CDP's activation made to the webhook, and what became of it.

    ``idempotency_key`` (from the ``X-CDP-Delivery-Id``, or the body's hash) is held by the one
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
        max_length=MAX_DELIVERY_ID_LENGTH,
        blank=True,
        help_text=_("The X-CDP-Delivery-Id header, when the CDP sent one."),
    )
    body_hash = models.CharField(_("body hash"), max_length=64, blank=True)
    # NULL, not "", for deliveries without the key: NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        _("idempotency key"),
        max_length=MAX_DELIVERY_ID_LENGTH + len("id:"),
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
        return f"{self.reference} ({self.get_status_display()})"

    @property
    def reference(self) -> str:
        """How the delivery is named to the sender and in the admin: its id, or its body's hash."""
        return self.delivery_id or f"sha256:{self.body_hash}"

    def own_idempotency_key(self) -> str:
        """What makes two deliveries "the same": the sender's delivery id, or else the body's hash.

        The key this delivery holds while it is accepted (queued or applied). The two kinds are
        kept apart by their prefix, so that no delivery id, however it is chosen, can claim the
        key of a body sent without one.
        """
        return f"id:{self.delivery_id}" if self.delivery_id else f"sha256:{self.body_hash}"


class WebhookSignature(models.Model):
    """The ``X-CDP-Signature`` a delivery was accepted with, kept while it could be replayed.

    The delivery id is not signed, so a signed request replayed under another one (or none)
    would pass as a new delivery; its signature, unique per client, makes it a duplicate. Kept
    only until the end of the tolerance window, after which the timestamp refuses it anyway.
    """

    client_id = models.CharField(_("client id"), max_length=255)
    digest = models.CharField(_("digest"), max_length=64, help_text=_("SHA-256 of the signature."))
    replayable_until = models.DateTimeField(_("replayable until"), db_index=True)
    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("delivery"),
    )

    class Meta:
        verbose_name = _("webhook signature")
        verbose_name_plural = _("webhook signatures")
        constraints = [
            models.UniqueConstraint(
                fields=["client_id", "digest"], name="cdp_signature_unique_digest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.digest[:12]}…"


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
