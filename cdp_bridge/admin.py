"""The admin: segment groups and segments (read-only once locked), and the records the app keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Field, Model, QuerySet
from django.db.models.functions import Substr
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from cdp_bridge import segmentation
from cdp_bridge.dashboard import admin as dashboard_admin  # noqa: F401 - registers the dashboard
from cdp_bridge.exceptions import SegmentGroupLocked
from cdp_bridge.local_time import local_time
from cdp_bridge.models import (
    ExportRun,
    ScheduleState,
    Segment,
    SegmentGroup,
    SegmentMembership,
    WebhookDelivery,
)
from cdp_bridge.models.segments import SegmentGroupQuerySet, SegmentQuerySet
from cdp_bridge.webhook.reapplying import reapply

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

BODY_PREVIEW_CHARS = 10_000
DELIVERY_FIELDS = (
    "received_at",
    "processed_at",
    "client_id",
    "scope",
    "segment_group_identifier",
    "delivery_id",
    "body_hash",
    "status",
    "duplicate_of",
    "attempts",
    "member_count",
    "error",
    "result",
    "body_preview",
)


def _user_search_fields(prefix: str) -> list[str]:
    user_model = get_user_model()
    names = [user_model.USERNAME_FIELD, user_model.get_email_field_name()]
    field_names = {field.name for field in user_model._meta.get_fields()}
    return [f"={prefix}{name}" for name in dict.fromkeys(names) if name in field_names]


def time_column(model: type[Model], field: str) -> Callable[[Any], str]:
    """A list column showing ``field`` in the site's time zone and saying which zone it is."""
    model_field = model._meta.get_field(field)
    assert isinstance(model_field, Field)  # a column of the model, not a reverse relation

    @admin.display(description=model_field.verbose_name, ordering=field)
    def column(obj: Any) -> str:
        moment = getattr(obj, field)
        return local_time(moment) if moment else "-"

    column.__name__ = field  # the column's CSS class, as the field's own column would have it
    return column


def _refusal(group: SegmentGroup | None, action: str) -> str | None:
    """Why ``action`` on ``group`` is refused, or None when it is allowed."""
    if group is None:
        return None
    try:
        group.refuse_if_locked(action)
    except SegmentGroupLocked as error:
        return str(error)
    return None


class SegmentGroupForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SegmentGroup
        fields = ["identifier", "name"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.instance.pk:
            stored = SegmentGroup.objects.get(pk=self.instance.pk)
            refusal = _refusal(stored, gettext("change the segment group"))
            if refusal:
                raise ValidationError(refusal)
        return cleaned


class OneAtATimeDeletion(admin.ModelAdmin):  # type: ignore[type-arg]
    """Deletion of one object at a time, through the lock, with the reason when it is refused.

    Without an object, Django asks about the changelist's "delete selected" action, which is
    not offered. ``delete_view`` answers an object of a locked group with the reason, on the
    object's page.
    """

    deletion: StrPromise  # what deleting an object is called in the refusal

    def group_of(self, obj: Any) -> SegmentGroup:
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is not None and super().has_delete_permission(request, obj)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None and self.group_of(obj).is_locked:
            extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        refusal = _refusal(self.group_of(obj) if obj is not None else None, str(self.deletion))
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            opts = self.opts
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            return HttpResponseRedirect(url)
        return super().delete_view(request, object_id, extra_context)


@admin.register(SegmentGroup)
class SegmentGroupAdmin(OneAtATimeDeletion):
    form = SegmentGroupForm
    deletion = gettext_lazy("delete the segment group")
    list_display = ["identifier", "name", "segment_count", time_column(SegmentGroup, "locked_at")]
    search_fields = ["identifier", "name"]
    readonly_fields = ["locked_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SegmentGroup]:
        groups = cast(SegmentGroupQuerySet, super().get_queryset(request))
        return groups.with_segment_count()

    @admin.display(description=_("segments"), ordering="segment_count")
    def segment_count(self, group: SegmentGroup) -> int:
        return group.segment_count  # type: ignore[attr-defined,no-any-return]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.is_locked:
            return ["identifier", "name", "locked_at", "created_at"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: SegmentGroup, form: Any, change: bool) -> None:
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            segmentation.update_segment_group(obj, **changes)
        else:
            super().save_model(request, obj, form, change)

    def group_of(self, obj: SegmentGroup) -> SegmentGroup:
        return obj

    def delete_model(self, request: HttpRequest, obj: SegmentGroup) -> None:
        segmentation.delete_segment_group(obj)


class CdpManagedReadOnly(OneAtATimeDeletion):
    """Objects of a locked group are the CDP's: shown, never changed or deleted here."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.group_of(obj).is_locked:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "group":
            kwargs["queryset"] = SegmentGroup.objects.filter(locked_at__isnull=True)
        if db_field.name == "segment":
            kwargs["queryset"] = Segment.objects.filter(group__locked_at__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Segment)
class SegmentAdmin(CdpManagedReadOnly):
    list_display = [
        "identifier",
        "name",
        "group",
        "member_count",
        "profile_count",
        time_column(Segment, "cdp_updated_at"),
        "sequence",
    ]
    list_filter = ["group"]
    list_select_related = ["group"]
    search_fields = ["identifier", "name", *_user_search_fields("memberships__user__")]
    readonly_fields = ["sequence", "created_at", "updated_at"]
    fields = [
        "group",
        "identifier",
        "name",
        "description",
        "tags",
        "profile_count",
        "cdp_updated_at",
        "sequence",
        "created_at",
        "updated_at",
    ]

    deletion = gettext_lazy("delete the segment")

    def group_of(self, obj: Segment) -> SegmentGroup:
        return obj.group

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        segmentation.save_segment(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        segments = cast(SegmentQuerySet, super().get_queryset(request))
        return segments.with_member_count()

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, segment: Segment) -> int:
        return segment.member_count  # type: ignore[attr-defined,no-any-return]


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(CdpManagedReadOnly):
    """Find a user's segments; add and remove members of segments the CDP does not manage."""

    list_display = ["user", "segment", "group"]
    list_filter = ["segment__group"]
    list_select_related = ["user", "segment__group"]
    search_fields = [*_user_search_fields("user__"), "=segment__identifier"]
    raw_id_fields = ["user"]
    show_full_result_count = False

    # Deleting a person deletes their memberships, and Django asks this admin whether it may
    # delete each of them. Its answer must not depend on the lock, or erasure requests could
    # be blocked by a segment: a membership of a locked group is refused in delete_view instead.
    deletion = gettext_lazy("remove members from the segment")

    def group_of(self, obj: SegmentMembership) -> SegmentGroup:
        return obj.segment.group

    @admin.display(description=_("group"), ordering="segment__group__identifier")
    def group(self, membership: SegmentMembership) -> SegmentGroup:
        return membership.segment.group

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: SegmentMembership, form: Any, change: bool
    ) -> None:
        segmentation.assign_users_to_segment(obj.segment, [obj.user])

    def delete_model(self, request: HttpRequest, obj: SegmentMembership) -> None:
        segmentation.unassign_user_from_segment(obj.segment, obj.user)


class RecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Records the app keeps (deliveries, export runs): shown, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    """The history of webhook deliveries; failed ones can be re-applied."""

    list_display = [
        time_column(WebhookDelivery, "received_at"),
        "client_id",
        "scope",
        "key",
        "status",
        "member_count",
        "short_error",
    ]
    list_filter = ["status", "client_id", "scope"]
    search_fields = ["=delivery_id", "=body_hash"]
    date_hierarchy = "received_at"
    actions = ["reapply"]
    fields = readonly_fields = DELIVERY_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        # A body can be tens of megabytes: the list never loads it.
        queryset: QuerySet[WebhookDelivery] = super().get_queryset(request)
        return queryset.defer("body")

    @admin.display(description=_("delivery"))
    def key(self, delivery: WebhookDelivery) -> str:
        return Truncator(delivery.reference).chars(40)

    @admin.display(description=_("error"))
    def short_error(self, delivery: WebhookDelivery) -> str:
        return Truncator(delivery.error).chars(80)

    @admin.display(description=_("body"))
    def body_preview(self, delivery: WebhookDelivery) -> str:
        # Only the start is read from the database, however large the body.
        start = (
            WebhookDelivery.objects.filter(pk=delivery.pk)
            .annotate(start=Substr("body", 1, BODY_PREVIEW_CHARS + 1))
            .values_list("start", flat=True)
            .get()
        )
        return Truncator(start).chars(BODY_PREVIEW_CHARS)

    @admin.action(description=_("Re-apply the selected failed deliveries"))
    def reapply(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        failed = queryset.filter(status=WebhookDelivery.Status.FAILED)
        skipped = queryset.count() - failed.count()
        outcomes: dict[str, int] = {}
        for delivery in failed:
            status = reapply(delivery).status
            outcomes[status] = outcomes.get(status, 0) + 1
        for status, count in outcomes.items():
            label = WebhookDelivery.Status(status).label
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery re-applied: %(status)s.",
                    "%(count)d deliveries re-applied: %(status)s.",
                    count,
                )
                % {"count": count, "status": label},
                messages.ERROR if status == WebhookDelivery.Status.FAILED else messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was skipped: only failed deliveries can be re-applied.",
                    "%(count)d deliveries were skipped: only failed deliveries can be re-applied.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


EXPORT_RUN_FIELDS = (
    "kind",
    "scope",
    "source",
    "transport",
    "masked_stream_id",
    "destination",
    "mode",
    "since",
    "resumed_from",
    "started_at",
    "heartbeat_at",
    "finished_at",
    "duration",
    "status",
    "rows",
    "skipped",
    "batches",
    "last_acknowledged_key",
    "error",
)


@admin.register(ExportRun)
class ExportRunAdmin(RecordAdmin):
    """Every export run, read-only; the stream id is a secret and only shown masked."""

    list_display = [
        time_column(ExportRun, "started_at"),
        "kind",
        "source",
        "scope",
        "mode",
        "status",
        "rows",
        "batches",
        "duration",
        "destination",
    ]
    list_filter = ["status", "kind", "draft", "scope", "transport"]
    search_fields = ["source", "scope", "error"]
    date_hierarchy = "started_at"
    fields = EXPORT_RUN_FIELDS
    readonly_fields = EXPORT_RUN_FIELDS

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        ExportRun.objects.mark_interrupted()  # show a run whose process died as what it is
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        ExportRun.objects.mark_interrupted()
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("mode"), ordering="draft")
    def mode(self, run: ExportRun) -> str:
        return str(_("draft") if run.draft else _("full"))

    @admin.display(description=_("stream id"))
    def masked_stream_id(self, run: ExportRun) -> str:
        return run.masked_stream_id

    @admin.display(description=_("duration"))
    def duration(self, run: ExportRun) -> str:
        return f"{run.duration.total_seconds():.1f} s" if run.duration else "-"


SCHEDULE_STATE_FIELDS = (
    "kind",
    "scope",
    "interval",
    "options",
    "last_fire_time",
    "last_started_at",
    "last_finished_at",
    "result",
    "last_error",
    "lease_owner",
    "lease_expires_at",
    "entry_key",
)


@admin.register(ScheduleState)
class ScheduleStateAdmin(RecordAdmin):
    """How each scheduled export last ran, and who holds its lease, read-only."""

    list_display = [
        "kind",
        "scope",
        "interval",
        "options",
        time_column(ScheduleState, "last_started_at"),
        "result",
        "short_error",
        time_column(ScheduleState, "lease_expires_at"),
    ]
    list_filter = ["kind", "scope", "last_result"]
    search_fields = ["options", "interval", "last_error"]
    fields = readonly_fields = SCHEDULE_STATE_FIELDS

    @admin.display(description=_("last result"), ordering="last_result")
    def result(self, state: ScheduleState) -> str:
        # A run whose lease lapsed lost its process: interrupted, not running.
        shown = state.shown_result(timezone.now())
        return str(ScheduleState.Result(shown).label) if shown else "-"  # never run yet

    @admin.display(description=_("last error"))
    def short_error(self, state: ScheduleState) -> str:
        return Truncator(state.last_error).chars(80)
