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
from django.utils.translation import gettext as _

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
        known = ", ".join(sorted(sources)) or _("none")
        raise ExportError(
            _(
                "Unknown %(option)s %(name)s. The %(kind)s sources are: %(known)s. Configure it "
                "under %(key)s."
            )
            % {
                "option": option,
                "name": repr(name),
                "kind": kind,
                "known": known,
                "key": f"sources.{kind}.{name}",
            }
        )
    if len(sources) == 1:
        return next(iter(sources.values()))
    if not sources:
        raise ExportError(
            _("No %(kind)s source is configured: add one under %(key)s (see docs/export.md).")
            % {"kind": kind, "key": f"sources.{kind}"}
        )
    raise ExportError(
        _(
            "There are %(count)d %(kind)s sources (%(names)s); each has its own stream in the "
            "CDP. Choose one with %(option)s NAME."
        )
        % {
            "count": len(sources),
            "kind": kind,
            "names": ", ".join(sorted(sources)),
            "option": option,
        }
    )


def source_queryset(source: SourceSettings, scope: ScopeSettings) -> QuerySet[Any]:
    """The source's rows: its ``queryset`` callable or ``model``, narrowed by its ``filter``."""
    where = f"sources.{source.kind}.{source.name}"
    if source.queryset:
        try:
            build: Callable[[ScopeSettings], Any] = import_string(source.queryset)
        except ImportError as error:
            raise ExportError(
                _("%(key)s: %(path)s cannot be imported (%(error)s).")
                % {"key": f"{where}.queryset", "path": repr(source.queryset), "error": error}
            ) from error
        try:
            queryset = build(scope)
        except Exception as error:  # the site's own code: say where, not a traceback
            raise ExportError(
                _("%(key)s: %(path)s raised %(type)s: %(error)s")
                % {
                    "key": f"{where}.queryset",
                    "path": repr(source.queryset),
                    "type": type(error).__name__,
                    "error": error,
                }
            ) from error
        if not isinstance(queryset, QuerySet):
            raise ExportError(
                _("%(key)s: %(path)s returned %(type)s, not a QuerySet.")
                % {
                    "key": f"{where}.queryset",
                    "path": repr(source.queryset),
                    "type": type(queryset).__name__,
                }
            )
    else:
        try:
            model = apps.get_model(source.model or "")
        except (LookupError, ValueError) as error:
            raise ExportError(
                _("%(key)s: the model %(model)s does not exist. Run manage.py check.")
                % {"key": f"{where}.model", "model": repr(source.model)}
            ) from error
        queryset = model._default_manager.all()
    return narrowed(queryset, dict(source.filter), f"{where}.filter")


def modified_since(
    queryset: QuerySet[Any], source: SourceSettings, since: datetime
) -> QuerySet[Any]:
    """Only the rows modified after ``since``: the source must name its ``modified_field``."""
    if not source.modified_field:
        raise ExportError(
            _(
                "--since needs to know when a row changed, and %(key)s has no modified_field. "
                "Add one (a DateTimeField such as updated_at), or export without --since."
            )
            % {"key": f"sources.{source.kind}.{source.name}"}
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
