"""Sources: which rows a run exports (``CDP_BRIDGE["sources"]``), read in key order, in chunks.

Rows are read with keyset pagination on the primary key: each chunk is one query
(``pk > last key ORDER BY pk LIMIT n``), so memory stays flat whatever the table size, a chunk
costs the same at the end of a table as at its start, and ``--resume`` continues after the
last key the CDP acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db.models import Model, QuerySet
from django.utils.module_loading import import_string

from cdp_bridge.conf import ScopeSettings, SourceSettings, cdp_settings
from cdp_bridge.exceptions import ExportError

# The option that chooses a source, per kind: Ibexa's names.
TYPE_OPTIONS = {
    "user": "--user-content-type",
    "content": "--content-type",
    "product": "--product-type",
}


def select_source(kind: str, name: str | None) -> SourceSettings:
    """The source called ``name``, or the kind's only source when no name is given."""
    sources = cdp_settings().sources_of(kind)
    option = TYPE_OPTIONS[kind]
    if name is not None:
        if name in sources:
            return sources[name]
        known = ", ".join(sorted(sources)) or "none"
        raise ExportError(
            f"Unknown {option} {name!r}. The {kind} sources are: {known}. "
            f"Configure it under sources.{kind}.{name}."
        )
    if len(sources) == 1:
        return next(iter(sources.values()))
    if not sources:
        raise ExportError(
            f"No {kind} source is configured: add one under sources.{kind} (see docs/export.md)."
        )
    raise ExportError(
        f"There are {len(sources)} {kind} sources ({', '.join(sorted(sources))}); each has its "
        f"own stream in the CDP. Choose one with {option} NAME."
    )


def source_queryset(source: SourceSettings, scope: ScopeSettings) -> QuerySet[Any]:
    """The source's rows: its ``queryset`` callable or ``model``, narrowed by its ``filter``."""
    where = f"sources.{source.kind}.{source.name}"
    if source.queryset:
        try:
            build: Callable[[ScopeSettings], Any] = import_string(source.queryset)
        except ImportError as error:
            raise ExportError(
                f"{where}.queryset: {source.queryset!r} cannot be imported ({error})."
            ) from error
        try:
            queryset = build(scope)
        except Exception as error:  # the site's own code: say where, not a traceback
            raise ExportError(
                f"{where}.queryset: {source.queryset!r} raised {type(error).__name__}: {error}"
            ) from error
        if not isinstance(queryset, QuerySet):
            raise ExportError(
                f"{where}.queryset: {source.queryset!r} returned {type(queryset).__name__}, "
                "not a QuerySet."
            )
    else:
        try:
            model = apps.get_model(source.model or "")
        except (LookupError, ValueError) as error:
            raise ExportError(
                f"{where}.model: the model {source.model!r} does not exist. Run manage.py check."
            ) from error
        queryset = model._default_manager.all()
    return narrowed(queryset, dict(source.filter), f"{where}.filter")


def modified_since(
    queryset: QuerySet[Any], source: SourceSettings, since: datetime
) -> QuerySet[Any]:
    """Only the rows modified after ``since``: the source must name its ``modified_field``."""
    if not source.modified_field:
        raise ExportError(
            f"--since needs to know when a row changed, and sources.{source.kind}."
            f"{source.name} has no modified_field. Add one (a DateTimeField such as "
            "updated_at), or export without --since."
        )
    lookup = {f"{source.modified_field}__gt": since}
    return narrowed(queryset, lookup, f"sources.{source.kind}.{source.name}.modified_field")


def narrowed(queryset: QuerySet[Any], lookups: dict[str, Any], where: str) -> QuerySet[Any]:
    try:
        return queryset.filter(**lookups)
    except (FieldError, ValueError, TypeError) as error:
        raise ExportError(f"{where}: {error}") from error


def chunks(
    queryset: QuerySet[Any],
    size: int,
    key: Callable[[Any], Any],
    *,
    after: Any = None,
    limit: int | None = None,
) -> Iterator[list[Any]]:
    """The queryset's records in primary key order, ``size`` at a time, after the key ``after``.

    ``key`` reads a record's primary key; ``limit`` caps the total (a draft's sample).
    """
    ordered = queryset.order_by("pk")
    remaining = limit
    while remaining is None or remaining > 0:
        wanted = size if remaining is None else min(size, remaining)
        page = ordered if after is None else ordered.filter(pk__gt=after)
        records = list(page[:wanted])
        if records:
            yield records
        if len(records) < wanted:
            return
        after = key(records[-1])
        if remaining is not None:
            remaining -= len(records)


def key_from_text(model: type[Model], text: str) -> Any:
    """A primary key stored as text (``ExportRun.last_acknowledged_key``) in its own type."""
    return model._meta.pk.to_python(text)
