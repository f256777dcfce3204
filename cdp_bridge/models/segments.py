"""Segment groups, segments and the membership of users in segments (Ibexa's segmentation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SegmentGroup(models.Model):
    """A container of segments; a CDP activation writes its audiences into one group.

    ``locked_at`` is set when an activation first connects; from then on the group cannot
    be changed (see ``cdp_bridge.segmentation``).
    """

    identifier = models.SlugField(_("identifier"), max_length=255, unique=True)
    name = models.CharField(_("name"), max_length=255)
    locked_at = models.DateTimeField(
        _("locked at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When a CDP activation first connected; a locked group cannot change."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["identifier"]
        verbose_name = _("segment group")
        verbose_name_plural = _("segment groups")

    def __str__(self) -> str:
        return self.name or self.identifier

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class Segment(models.Model):
    """A set of users; for a locked group, one CDP audience with its metadata."""

    group = models.ForeignKey(
        SegmentGroup,
        on_delete=models.PROTECT,
        related_name="segments",
        verbose_name=_("group"),
    )
    identifier = models.CharField(_("identifier"), max_length=255)
    name = models.CharField(_("name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    profile_count = models.PositiveBigIntegerField(
        _("profile count"),
        null=True,
        blank=True,
        help_text=_("The audience's size in the CDP, which counts profiles the site may not have."),
    )
    cdp_updated_at = models.DateTimeField(_("updated in the CDP"), null=True, blank=True)
    sequence = models.BigIntegerField(
        _("sequence"),
        null=True,
        blank=True,
        help_text=_("The highest audience sequence applied; older deliveries are ignored."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="SegmentMembership",
        related_name="cdp_segments",
        verbose_name=_("members"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["group", "identifier"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "identifier"], name="cdp_segment_unique_identifier"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.identifier


class SegmentMembership(models.Model):
    """One user in one segment. Unique per pair; indexed by user for "my segments" lookups."""

    id = models.BigAutoField(primary_key=True)
    # The unique constraint's index starts with segment_id, so it serves segment lookups.
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cdp_segment_memberships",
    )

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")
        constraints = [
            models.UniqueConstraint(fields=["segment", "user"], name="cdp_membership_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.segment}"
