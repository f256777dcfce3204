"""System checks: every configuration problem, with a stable id and a hint.

The rules about the configuration's shape are declared with its keys (``conf.schema``) and
found when it is read; this module reports them, and adds the rules that need the app
registry, the database, DEBUG or the export commands.

Three registrations, as Django sorts checks: ``check_settings`` runs with every ``manage.py
check``; ``check_database`` (tag ``database``) reads the database, so only ``check --database
ALIAS`` and ``migrate`` run it; ``check_deployment`` is about the site in production, so only
``check --deploy`` runs it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from importlib.util import find_spec
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, router
from django.db.models import Model
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from cdp_bridge.conf import ConfigReport, SourceSettings, inspect_settings
from cdp_bridge.conf.kinds import PROCESSOR_KINDS
from cdp_bridge.exceptions import ConfigurationError, ExportError
from cdp_bridge.export.processors import (
    ProcessorPathError,
    from_settings,
    processor_at,
    registrations,
    rule_problems,
)

LOOPBACK_HOSTS = frozenset({"localhost"})


@register("cdp_bridge")
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every problem of the CDP_BRIDGE configuration."""
    report = inspect_settings()
    messages: list[CheckMessage] = [
        (Error if problem.is_error else Warning)(
            problem.message,
            hint=problem.hint or None,
            obj=problem.path,
            id=problem.check_id,
        )
        for problem in report.problems
    ]
    if report.settings is not None:
        messages += check_sources(report)
        messages += check_processors(report)
        messages += check_processor_rules(report)
        messages += check_person_identifier_fields(report)
        messages += check_webhook_queue(report)
        messages += check_schedule_options(report)
        messages += check_schedule_sources(report)
    return messages


@register("cdp_bridge", Tags.database)
def check_database(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """What only the database can tell: each activation's segment group exists.

    Django passes the databases it may query (``check --database ALIAS``, ``migrate``); with
    none, nothing is read.
    """
    report = inspect_settings()
    if not databases or report.settings is None:
        return []
    return check_segment_groups_exist(report, databases)


@register(Tags.security, "cdp_bridge", deploy=True)
def check_deployment(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """What matters for the site in production (``check --deploy``)."""
    report = inspect_settings()
    if report.settings is None:
        return []
    return check_stream_base_urls(report)


def check_sources(report: ConfigReport) -> list[CheckMessage]:
    """Each source's model, fields and queryset callable must exist."""
    assert report.settings is not None
    messages: list[CheckMessage] = []
    for kind, named in report.settings.sources.items():
        for name, source in named.items():
            path = report.key_path("sources", kind, name)
            if source.queryset:
                try:
                    import_string(source.queryset)
                except ImportError:
                    messages.append(
                        Error(
                            _("the queryset callable %(path)s cannot be imported.")
                            % {"path": repr(source.queryset)},
                            hint=_(
                                "Give the dotted path of a function taking the scope and "
                                "returning a QuerySet."
                            ),
                            obj=f"{path}.queryset",
                            id="cdp_bridge.E016",
                        )
                    )
            if not source.model:
                continue
            try:
                model = apps.get_model(source.model)
            except (LookupError, ValueError):
                messages.append(
                    Error(
                        _("the model %(model)s does not exist.") % {"model": repr(source.model)},
                        hint=_(
                            "Check the app label and model name, and that the app is in "
                            "INSTALLED_APPS."
                        ),
                        obj=f"{path}.model",
                        id="cdp_bridge.E010",
                    )
                )
                continue
            messages += _check_source_fields(model, source, path)
    return messages


def _check_source_fields(
    model: type[Model], source: SourceSettings, path: str
) -> list[CheckMessage]:
    named: list[tuple[str, str]] = [
        (key, getattr(source, key))
        for key in ("name_field", "code_field", "language_field", "modified_field")
        if getattr(source, key)
    ]
    named += [("fields", field) for field in source.fields or ()]
    named += [("exclude", field) for field in source.exclude]
    named += [("filter", lookup.split("__")[0]) for lookup in source.filter]
    messages: list[CheckMessage] = []
    for key, field_name in named:
        try:
            model._meta.get_field(field_name)
        except FieldDoesNotExist:
            messages.append(
                Error(
                    _("%(model)s has no field %(field)s.")
                    % {"model": model._meta.label, "field": repr(field_name)},
                    hint=_("Use one of: %(names)s.") % {"names": ", ".join(_field_names(model))},
                    obj=f"{path}.{key}",
                    id="cdp_bridge.E011",
                )
            )
    return messages


def check_processors(report: ConfigReport) -> list[CheckMessage]:
    """Each processor named by dotted path must import and be what the export calls."""
    assert report.settings is not None
    messages: list[CheckMessage] = []
    for kind, references in report.settings.processors.items():
        for index, reference in enumerate(references):
            if reference.path is None:  # a skip rule
                continue
            try:
                processor_at(reference.path, kind)
            except ProcessorPathError as error:
                messages.append(
                    Error(
                        str(error),
                        hint=error.hint,
                        obj=report.key_path("processors", kind, index, "path"),
                        id=error.check_id,
                    )
                )
    return messages


def check_processor_rules(report: ConfigReport) -> list[CheckMessage]:
    """Skip and JSON hash processors must name fields and field types that exist."""
    assert report.settings is not None
    messages: list[CheckMessage] = []
    for kind in PROCESSOR_KINDS:
        entries = registrations(kind, ())  # those registered with decorators
        for index, reference in enumerate(report.settings.processors.get(kind, ())):
            try:
                entries.append(from_settings(reference, ("processors", kind, index), kind))
            except ExportError:
                continue  # a path that names no processor: check_processors reports it
        messages += [
            Error(
                problem.message,
                hint=problem.hint,
                obj=report.key_path(*problem.where),
                id=problem.check_id,
            )
            for entry in entries
            for problem in rule_problems(entry)
        ]
    return messages


def check_person_identifier_fields(report: ConfigReport) -> list[CheckMessage]:
    """An activation's person identifier must be a field of the user model."""
    assert report.settings is not None
    user_model = get_user_model()
    messages: list[CheckMessage] = []
    for scope in report.settings.scopes.values():
        for activation in scope.activations:
            field_name = activation.person_identifier_field
            if not field_name:
                continue
            try:
                field = user_model._meta.get_field(field_name)
            except FieldDoesNotExist:
                problem = _("%(model)s has no field %(field)s.") % {
                    "model": user_model._meta.label,
                    "field": repr(field_name),
                }
            else:
                # The webhook maps one CDP person to one user, so the field must be unique.
                if getattr(field, "unique", False):
                    continue
                problem = _("%(model)s.%(field)s is not unique.") % {
                    "model": user_model._meta.label,
                    "field": field_name,
                }
            messages.append(
                Error(
                    problem,
                    hint=_(
                        "Name the unique user field that holds the CDP's userid (the id column "
                        "of the user export), or leave it out to use the primary key."
                    ),
                    obj=report.key_path(*activation.key_path, "person_identifier_field"),
                    id="cdp_bridge.E017",
                )
            )
    return messages


def check_webhook_queue(report: ConfigReport) -> list[CheckMessage]:
    """Queued deliveries handed to Celery need Celery installed."""
    assert report.settings is not None
    if report.settings.webhook.queue != "celery" or find_spec("celery") is not None:
        return []
    return [
        Error(
            _("webhook.queue is 'celery' but Celery is not installed."),
            hint=_(
                "Install django-cdp-bridge[celery], or set webhook.queue to 'command' and run "
                "manage.py cdp_process_deliveries."
            ),
            obj=report.key_path("webhook", "queue"),
            id="cdp_bridge.E018",
        )
    ]


def check_stream_base_urls(report: ConfigReport) -> list[CheckMessage]:
    """Person data must not cross the network in clear text, except in development."""
    assert report.settings is not None
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    for scope in report.settings.scopes.values():
        url = urlsplit(scope.stream_base_url)
        if url.scheme != "https" and not _is_loopback(url.hostname or ""):
            messages.append(
                Warning(
                    _("stream_base_url %(url)s is not https.")
                    % {"url": repr(scope.stream_base_url)},
                    hint=_("Use https:// so that exported person data is encrypted in transit."),
                    obj=report.key_path("system", scope.name, "cdp", "stream_base_url"),
                    id="cdp_bridge.W002",
                )
            )
    return messages


def check_segment_groups_exist(
    report: ConfigReport, databases: Sequence[str]
) -> list[CheckMessage]:
    """Each activation's segment group must be created on the site before the CDP calls.

    Looked up in the database the webhook writes segment groups to, when it is one of
    ``databases``.
    """
    from cdp_bridge.models import SegmentGroup

    assert report.settings is not None
    wanted: dict[str, str] = {}
    for scope in report.settings.scopes.values():
        for activation in scope.activations:
            path = report.key_path(*activation.key_path, "segment_group_identifier")
            wanted.setdefault(activation.segment_group_identifier, path)
    database = router.db_for_write(SegmentGroup)
    if not wanted or database not in databases:
        return []
    try:
        existing = set(
            SegmentGroup.objects.using(database)
            .filter(identifier__in=wanted)
            .values_list("identifier", flat=True)
        )
    except DatabaseError:
        return []  # not migrated yet: nothing to compare with
    return [
        Warning(
            _("the segment group %(identifier)s does not exist.")
            % {"identifier": repr(identifier)},
            hint=_(
                "Create it in the admin (CDP bridge > Segment groups) before the CDP's "
                "activation connects; until then the webhook answers 409."
            ),
            obj=path,
            id="cdp_bridge.W001",
        )
        for identifier, path in sorted(wanted.items())
        if identifier not in existing
    ]


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _field_names(model: type[Model]) -> Iterable[str]:
    return sorted(field.name for field in model._meta.get_fields() if field.concrete)


def check_schedule_options(report: ConfigReport) -> list[CheckMessage]:
    """Each schedule entry's options must be accepted by its export command."""
    from cdp_bridge.schedule.clock import require_aware_times
    from cdp_bridge.schedule.entries import options_problem

    assert report.settings is not None
    messages: list[CheckMessage] = []
    if report.settings.schedule:
        try:
            require_aware_times()
        except ConfigurationError as error:
            messages.append(
                Error(
                    str(error),
                    hint=_("Set USE_TZ = True."),
                    obj="settings.USE_TZ",
                    id="cdp_bridge.E020",
                )
            )
    for entry in report.settings.schedule:
        problem = options_problem(entry)
        if problem:
            messages.append(
                Error(
                    problem,
                    hint=_(
                        "Give options that manage.py %(command)s accepts; until then "
                        "cdp_run_schedule refuses this entry and runs the others."
                    )
                    % {"command": f"stream_{entry.kind}_data"},
                    obj=report.key_path(*entry.key_path, "options"),
                    id="cdp_bridge.E019",
                )
            )
    return messages


def check_schedule_sources(report: ConfigReport) -> list[CheckMessage]:
    """A schedule entry's --content-type, --product-type or --user-content-type names a source.

    A source is Django's counterpart of an Ibexa content (or product, or user) type: an entry
    copied from Ibexa fails every run until the source it names is configured.
    """
    from cdp_bridge.exceptions import ExportError
    from cdp_bridge.export.sources import TYPE_OPTIONS
    from cdp_bridge.schedule.entries import entry_options

    assert report.settings is not None
    messages: list[CheckMessage] = []
    for entry in report.settings.schedule:
        try:
            source = entry_options(entry).source
        except ExportError:
            continue  # E019 says why the options cannot run
        sources = report.settings.sources_of(entry.kind)
        if source is None or source in sources:
            continue
        option = TYPE_OPTIONS[entry.kind]
        messages.append(
            Error(
                _(
                    "schedule entry %(entry)s exports %(option)s %(source)s, but no %(kind)s "
                    "source has that name; the %(kind)s sources are: %(sources)s."
                )
                % {
                    "entry": entry.name,
                    "option": option,
                    "source": repr(source),
                    "kind": entry.kind,
                    "sources": ", ".join(sorted(sources)) or _("none"),
                },
                hint=_(
                    "Add sources.%(kind)s.%(source)s naming the model to export (a source is "
                    "Django's counterpart of an Ibexa %(kind)s type; see docs/export.md), or "
                    "change the entry's options."
                )
                % {"kind": entry.kind, "source": source},
                obj=report.key_path(*entry.key_path, "options"),
                id="cdp_bridge.E035",
            )
        )
    return messages
