"""Planning a run: from the options people give to what is read, from where, and where it goes.

Every mistake in the options or the configuration is found here, before a row is read, and
reported as an ExportError saying what to do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cdp_bridge.conf import ScopeSettings, SourceSettings, StreamSettings, get_scope
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.exceptions import CdpBridgeError, ExportError
from cdp_bridge.export.processors import registered_processors
from cdp_bridge.export.rows import ModelRows, RowBuilder, UserRows
from cdp_bridge.export.sources import (
    key_from_text,
    modified_since,
    select_source,
    source_queryset,
)
from cdp_bridge.export.transports import (
    FileTransport,
    MemoryTransport,
    RetryPolicy,
    StreamFileTransport,
    Transport,
)
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.local_time import local_time
from cdp_bridge.models import ExportRun
from cdp_bridge.redaction import mask_secret
from cdp_bridge.stream_ids import STREAM_ID_HINT, is_valid_stream_id

DRAFT_LIMIT = 100


@dataclass(frozen=True)
class ExportOptions:
    """What was asked for: the options of ``stream_<kind>_data``, from any caller.

    ``draft`` sends at most ``draft_limit`` rows marked as a draft; ``draft=False`` sends them
    all. ``source`` names one of the kind's sources (needed when it has several).
    ``stream_id`` overrides the scope's stream. ``since`` is a datetime, ISO 8601 text, or
    ``"last"`` (after the last successful full export of the stream). ``resume`` continues
    the stream's failed or interrupted full export.
    """

    kind: str
    scope: str = "default"
    source: str | None = None
    draft: bool = True
    draft_limit: int = DRAFT_LIMIT
    stream_id: str | None = None
    batch_size: int | None = None
    since: str | datetime | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        if self.kind not in EXPORT_KINDS:  # a caller's bug, not a user's input
            raise ValueError(f"kind must be one of {', '.join(EXPORT_KINDS)}, not {self.kind!r}")


def check_options(options: ExportOptions) -> None:
    """Refuse options that no configuration can make right, with an ExportError saying why."""
    if options.draft_limit < 1:
        raise ExportError(
            _("--draft-limit must be at least 1, not %(value)d.") % {"value": options.draft_limit}
        )
    if options.batch_size is not None and options.batch_size < 1:
        raise ExportError(
            _("--batch-size must be at least 1, not %(value)d.") % {"value": options.batch_size}
        )
    if options.stream_id is not None and not is_valid_stream_id(options.stream_id):
        raise ExportError(
            _("--stream-id %(stream_id)s is malformed. %(hint)s")
            % {"stream_id": mask_secret(options.stream_id) or _("(empty)"), "hint": STREAM_ID_HINT}
        )


@dataclass(frozen=True)
class ExportPlan:
    """What a run does: which rows (``queryset`` after ``after``), built how, sent where."""

    options: ExportOptions
    scope: ScopeSettings
    source: SourceSettings
    stream: StreamSettings
    stream_id: str
    batch_size: int
    limit: int | None
    since: datetime | None
    resumed_from: ExportRun | None
    after: Any
    model: type[Model]
    queryset: QuerySet[Any]
    builder: RowBuilder

    def open_transport(self, run: ExportRun) -> Transport:
        """The transport of this plan's stream settings, for ``run``."""
        options = self.options
        if self.stream.transport == "stream_file":
            assert self.scope.account_number is not None  # checked by plan_export
            return StreamFileTransport(
                base_url=self.scope.stream_base_url,
                account_number=self.scope.account_number,
                stream_id=self.stream_id,
                draft=options.draft,
                connect_timeout=self.stream.connect_timeout,
                read_timeout=self.stream.read_timeout,
                retry=RetryPolicy(
                    budget=self.stream.retry_budget,
                    max_retry_after=self.stream.max_retry_after,
                ),
            )
        if self.stream.transport == "file":
            assert self.stream.directory is not None  # the configuration requires it
            return FileTransport(export_directory(self.stream.directory) / run_folder(run))
        return MemoryTransport(
            kind=options.kind,
            scope=self.scope.name,
            source=self.source.name,
            stream_id=self.stream_id,
            draft=options.draft,
        )


def run_folder(run: ExportRun) -> str:
    """The ``file`` transport's folder for a run: ``run-000012-full-20261125T101500Z-3fa9c1``.

    A run id alone repeats across databases and sites sharing a directory (a new database
    starts again at 1); with the start time and a random suffix, no two runs share a folder.
    """
    mode = "draft" if run.draft else "full"
    started = run.started_at.astimezone(UTC)
    return f"run-{run.pk:06d}-{mode}-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def export_directory(directory: Path) -> Path:
    """A ``file.directory`` as an absolute path: a relative one is under the current directory."""
    return directory if directory.is_absolute() else Path.cwd() / directory


def plan_export(options: ExportOptions, run: ExportRun) -> ExportPlan:
    """Check the options against the configuration and work out the run; ``run`` is its record."""
    check_options(options)
    try:
        scope = get_scope(options.scope)
        source = select_source(options.kind, options.source)
    except ExportError:
        raise
    except CdpBridgeError as error:  # a broken configuration, an unknown scope
        raise ExportError(str(error)) from error
    stream = scope.stream(options.kind)
    stream_id = _stream_id(options, scope, stream)
    queryset = source_queryset(source, scope)
    model: type[Model] = queryset.model
    builder = _row_builder(options.kind, source, model, scope)

    recorded = ExportRun.objects.of_stream(
        options.kind, scope.name, source.name, stream.transport, stream_id
    ).exclude(pk=run.pk)
    resumed_from = _run_to_resume(options, recorded) if options.resume else None
    since = resumed_from.since if resumed_from else _since(options.since, recorded)
    if since is not None:
        queryset = modified_since(queryset, source, since)
    after = None
    if resumed_from is not None and resumed_from.last_acknowledged_key:
        after = key_from_text(model, resumed_from.last_acknowledged_key)
    return ExportPlan(
        options=options,
        scope=scope,
        source=source,
        stream=stream,
        stream_id=stream_id,
        batch_size=options.batch_size or stream.batch_size,
        limit=options.draft_limit if options.draft else None,
        since=since,
        resumed_from=resumed_from,
        after=after,
        model=model,
        queryset=builder.queryset(queryset),
        builder=builder,
    )


def _stream_id(options: ExportOptions, scope: ScopeSettings, stream: StreamSettings) -> str:
    stream_id = options.stream_id or stream.stream_id or ""
    if stream.transport != "stream_file":
        return stream_id
    where = f"system.{scope.name}.cdp"
    if scope.account_number is None:
        raise ExportError(
            _(
                "Scope %(scope)s has no account number: set %(key)s (the account list at the top "
                "right of the CDP dashboard)."
            )
            % {"scope": repr(scope.name), "key": f"{where}.account_number"}
        )
    if not stream_id:
        raise ExportError(
            _(
                "Scope %(scope)s has no stream id for %(kind)s data: set %(key)s (Data Manager > "
                "Stream file), or pass --stream-id."
            )
            % {
                "scope": repr(scope.name),
                "kind": options.kind,
                "key": f"{where}.data_export.{options.kind}_data.stream_file.stream_id",
            }
        )
    return stream_id


def _row_builder(
    kind: str, source: SourceSettings, model: type[Model], scope: ScopeSettings
) -> RowBuilder:
    if kind == "user":
        if not hasattr(model, "USERNAME_FIELD"):
            raise ExportError(
                _(
                    "%(key)s: %(model)s is not a user model. Use %(user_model)s, or a model based "
                    "on AbstractBaseUser."
                )
                % {
                    "key": f"sources.user.{source.name}",
                    "model": model._meta.label,
                    "user_model": settings.AUTH_USER_MODEL,
                }
            )
        return UserRows(
            model,  # type: ignore[arg-type]
            registered_processors("user_item"),
            PersonIdentifier.for_scope(scope, model),
        )
    return ModelRows(
        kind,
        source,
        model,
        registered_processors("field"),
        registered_processors("field_value"),
    )


def _run_to_resume(options: ExportOptions, recorded: Any) -> ExportRun:
    if options.draft:
        raise ExportError(_("--resume continues a full export: add --no-draft."))
    if options.since is not None:
        raise ExportError(_("--resume repeats the failed run's own --since: leave --since out."))
    ExportRun.objects.mark_interrupted()  # a run whose process died is not running any more
    latest: ExportRun | None = recorded.full().order_by("-started_at", "-pk").first()
    if latest is None or latest.status == ExportRun.Status.SUCCEEDED:
        if latest:
            raise ExportError(
                _(
                    "There is no failed full export of this stream to resume (the last one "
                    "succeeded on %(started)s). Run without --resume."
                )
                % {"started": local_time(latest.started_at)}
            )
        raise ExportError(
            _("There is no failed full export of this stream to resume. Run without --resume.")
        )
    if latest.status == ExportRun.Status.RUNNING:
        raise ExportError(
            _(
                "Export run %(pk)d of this stream is still running (its last heartbeat was at "
                "%(heartbeat)s): let it finish, or stop it, then resume."
            )
            % {"pk": latest.pk, "heartbeat": local_time(latest.heartbeat_at)}
        )
    return latest


def _since(value: str | datetime | None, recorded: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if value.strip().lower() == "last":
        last: ExportRun | None = (
            recorded.full()
            .filter(status=ExportRun.Status.SUCCEEDED)
            .order_by("-started_at", "-pk")
            .first()
        )
        return last.window_start if last else None  # never exported in full: everything
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ExportError(
            _(
                "--since %(value)s is not a date or time: write 2026-11-25, 2026-11-25T10:30 "
                "(in TIME_ZONE unless it has an offset) or last."
            )
            % {"value": repr(value)}
        ) from None
    if settings.USE_TZ and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed
