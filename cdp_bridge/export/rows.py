"""Rows: how a user, a content item or a product becomes one flat row of scalars for the CDP.

A row builder says which queryset it reads (columns, related objects), how to find a record's
key, and turns a chunk of records into rows, running the processors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, Model, QuerySet
from django.utils.translation import gettext as _

from cdp_bridge.conf import SourceSettings
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.field_values import builtin_field_value_processor, render_value
from cdp_bridge.export.processors import (
    FieldProcessor,
    FieldValueProcessor,
    Row,
    Scalar,
    UserItemProcessor,
    processor_name,
    require_scalars,
)
from cdp_bridge.identity import PersonIdentifier


class RowBuilder(Protocol):
    """Reads records of one source and turns them into rows."""

    def queryset(self, base: QuerySet[Any]) -> QuerySet[Any]: ...

    def key(self, record: Any) -> Any: ...

    def rows(self, records: Sequence[Any]) -> list[Row]: ...


def prepared(queryset: QuerySet[Any], processors: Sequence[Any]) -> QuerySet[Any]:
    """Let each processor add what it reads (``select_related`` ...) to the queryset."""
    for processor in processors:
        prepare = getattr(processor, "prepare_queryset", None)
        if prepare is not None:
            queryset = prepare(queryset)
    return queryset


def run_processor(
    processor: Any, method: Callable[..., Any], where: str, *args: Any
) -> Mapping[str, Scalar]:
    """Call a registered processor; what it raises or returns wrongly stops the export clearly."""
    try:
        result = method(*args)
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(
            _("%(where)s: %(processor)s raised %(type)s: %(error)s")
            % {
                "where": where,
                "processor": processor_name(processor),
                "type": type(error).__name__,
                "error": error,
            }
        ) from error
    require_scalars(result, processor, where)
    return result  # type: ignore[no-any-return]


class UserRows:
    """User rows: ``id`` (the person identifier), ``login``, ``email``, ``name``, then processors.

    ``name`` is ``get_full_name()``, else ``str(user)``. Without user item processors, and for
    a user model that names people the way Django's ``AbstractUser`` does, rows are read as
    plain values: building a model instance per row would make the export several times
    slower, and the rows are the same either way.
    """

    def __init__(
        self,
        model: type[AbstractBaseUser],
        processors: Sequence[UserItemProcessor],
        person: PersonIdentifier,
    ) -> None:
        self.model = model
        self.processors = processors
        self.person = person
        self.login_field: str = model.USERNAME_FIELD  # type: ignore[attr-defined]
        email_field = model.get_email_field_name()
        self.email_field = email_field if _has_field(model, email_field) else None
        self.reads_values = not processors and _names_like_abstract_user(model)

    def queryset(self, base: QuerySet[Any]) -> QuerySet[Any]:
        if self.reads_values:
            email = self.email_field or self.login_field  # read, then left out of the row
            return base.values_list(
                "pk", self.person.attname, self.login_field, email, "first_name", "last_name"
            )
        # Passwords are never exported; they are not even read.
        users = base.defer("password") if _has_field(self.model, "password") else base
        return prepared(users, self.processors)

    def key(self, record: Any) -> Any:
        return record[0] if self.reads_values else record.pk

    def rows(self, records: Sequence[Any]) -> list[Row]:
        if not self.reads_values:
            return [self.processed(user) for user in records]
        as_is = self.person.kind == "integer"
        exported = self.person.exported
        has_email = self.email_field is not None
        # The same columns as processed() builds, inline: a call per row would cost more
        # than a tenth of the export.
        return [
            {
                "id": person if as_is else exported(person),
                "login": None if login is None else str(login),
                "email": email if has_email else None,
                "name": f"{first_name} {last_name}".strip() or str(login),  # AbstractUser's
            }
            for _, person, login, email, first_name, last_name in records
        ]

    def processed(self, user: Any) -> Row:
        """The row of one user, through every user item processor in turn."""
        login = user.get_username()
        full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        row: Row = {
            "id": self.person.of(user),
            "login": None if login is None else str(login),
            "email": getattr(user, self.email_field) if self.email_field else None,
            "name": full_name or str(user),
        }
        where = _("user %(pk)s") % {"pk": user.pk}
        for processor in self.processors:
            row = dict(run_processor(processor, processor.process, where, row, user))
        return row


def _names_like_abstract_user(model: type[Model]) -> bool:
    """Whether the user's name is ``first_name last_name``, else its username (AbstractUser)."""
    return (
        getattr(model, "get_full_name", None) is AbstractUser.get_full_name
        and model.__str__ is AbstractBaseUser.__str__
        and _has_field(model, "first_name")
        and _has_field(model, "last_name")
    )


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


class ModelRows:
    """Content and product rows: their fixed columns, then each exported field's columns.

    Ibexa's layout: a field ``f`` the built-in field processor exports has ``field_<f>_type``,
    ``field_<f>_language_code`` (the row's language) and its value keys (``field_<f>_value``,
    ``field_<f>_value_<k>``). ``field_processors`` and ``value_processors`` are the registered
    ones, highest priority first; the built-ins (priority -100) come after them.
    """

    def __init__(
        self,
        kind: str,
        source: SourceSettings,
        model: type[Model],
        field_processors: Sequence[FieldProcessor],
        value_processors: Sequence[FieldValueProcessor],
    ) -> None:
        self.kind = kind
        self.source = source
        self.model = model
        self.field_processors = field_processors
        self.value_processors = value_processors
        self.fields = exported_fields(model, source)
        self.named = named_fields(model, source)
        self.builtins: dict[str, FieldValueProcessor] = {}
        self.columns_of = {field.name: _field_columns(field.name) for field in self.fields}

    def queryset(self, base: QuerySet[Any]) -> QuerySet[Any]:
        related = [f.name for f in self.fields if f.many_to_one or f.one_to_one]
        related += [f.name for f in self.named if f.is_relation]
        many = [f.name for f in self.fields if f.many_to_many]
        queryset = base.select_related(*dict.fromkeys(related)) if related else base
        queryset = queryset.prefetch_related(*many) if many else queryset
        return prepared(queryset, [*self.field_processors, *self.value_processors])

    def key(self, record: Any) -> Any:
        return record.pk

    def rows(self, records: Sequence[Any]) -> list[Row]:
        return [self.row(obj) for obj in records]

    def row(self, obj: Model) -> Row:
        try:
            row = self.fixed_columns(obj)
        except Exception as error:
            raise ExportError(
                _(
                    "%(model)s row %(pk)s: cannot read its id, name, code or language (%(type)s: "
                    "%(error)s). Check the source's name_field, code_field and language_field, "
                    "or the model's __str__()."
                )
                % {
                    "model": self.model._meta.label,
                    "pk": obj.pk,
                    "type": type(error).__name__,
                    "error": error,
                }
            ) from error
        language = row["language_code"]
        for field in self.fields:
            prefix, value_column = self.columns_of[field.name]
            where = _("%(field)s of row %(pk)s") % {
                "field": f"{self.model._meta.label}.{field.name}",
                "pk": obj.pk,
            }
            decided = self.field_processor_of(field, obj, where)
            if decided is not None:
                columns = run_processor(decided, decided.process, where, field, obj)
                row.update((prefix + key, value) for key, value in columns.items())
                continue
            row[prefix + "type"] = field.get_internal_type()
            row[prefix + "language_code"] = language
            for key, value in self.value_keys(field, obj, where).items():
                row[value_column(key)] = value
        return row

    def fixed_columns(self, obj: Model) -> Row:
        """``id``, the type (``content_type``, or ``code`` and ``product_type``), name, language."""
        source = self.source
        row: Row = {"id": render_value(self.model._meta.pk, obj.pk)}
        if self.kind == "product":
            code = self.text_of(obj, source.code_field)
            row["code"] = code if source.code_field else str(obj.pk)
            row["product_type"] = source.name
        else:
            row["content_type"] = source.name
        row["name"] = self.text_of(obj, source.name_field) if source.name_field else str(obj)
        language = self.text_of(obj, source.language_field)
        row["language_code"] = language if source.language_field else settings.LANGUAGE_CODE
        return row

    def field_processor_of(
        self, field: Field[Any, Any], obj: Model, where: str
    ) -> FieldProcessor | None:
        """The first registered field processor that supports the field; None: the built-in's."""
        for processor in self.field_processors:
            if run_supports(processor, field, obj, where):
                return processor
        return None

    def value_keys(self, field: Field[Any, Any], obj: Model, where: str) -> Mapping[str, Scalar]:
        """The keys of the first value processor that supports the field, the built-ins last."""
        for processor in self.value_processors:
            if run_supports(processor, field, obj, where):
                return run_processor(processor, processor.process, where, field, obj)
        builtin = self.builtins.get(field.name)
        if builtin is None:
            builtin = self.builtins[field.name] = builtin_field_value_processor(field, obj)
        try:
            return builtin.process(field, obj)
        except Exception as error:
            raise ExportError(
                _(
                    "%(where)s: cannot render %(field_type)s value (%(type)s: %(error)s). "
                    "Register a field value processor for it, or leave the field out with "
                    "skip() or the source's exclude."
                )
                % {
                    "where": where,
                    "field_type": field.get_internal_type(),
                    "type": type(error).__name__,
                    "error": error,
                }
            ) from error

    @staticmethod
    def text_of(obj: Model, name: str | None) -> str | None:
        if not name:
            return None
        value = getattr(obj, name)
        return None if value is None else str(value)


def _field_columns(name: str) -> tuple[str, Callable[[str], str]]:
    """A field's column prefix, and the column of each of its value keys (Ibexa's rule)."""
    prefix = f"field_{name}_"
    value = prefix + "value"
    return prefix, lambda key: value if key == "value" else f"{value}_{key}"


def run_supports(processor: Any, field: Field[Any, Any], obj: Model, where: str) -> bool:
    try:
        return bool(processor.supports(field, obj))
    except Exception as error:
        raise ExportError(
            _("%(where)s: %(processor)s.supports() raised %(type)s: %(error)s")
            % {
                "where": where,
                "processor": processor_name(processor),
                "type": type(error).__name__,
                "error": error,
            }
        ) from error


def named_fields(model: type[Model], source: SourceSettings) -> list[Field[Any, Any]]:
    """The fields the source names for its fixed columns (name, code, language)."""
    fields = []
    for key in ("name_field", "code_field", "language_field"):
        name = getattr(source, key)
        if not name:
            continue
        try:
            fields.append(model._meta.get_field(name))
        except FieldDoesNotExist:
            raise ExportError(
                _("%(key)s: %(model)s has no field %(field)s. Run manage.py check.")
                % {
                    "key": f"sources.{source.kind}.{source.name}.{key}",
                    "model": model._meta.label,
                    "field": repr(name),
                }
            ) from None
    return fields  # type: ignore[return-value]


def exported_fields(model: type[Model], source: SourceSettings) -> list[Field[Any, Any]]:
    """The model's own fields (not the primary key, not reverse relations), per fields/exclude."""
    own = {
        f.name: f
        for f in model._meta.get_fields()
        if ((f.concrete and not f.primary_key) or (f.many_to_many and not f.auto_created))
        and not getattr(f.remote_field, "parent_link", False)
    }
    names = list(source.fields) if source.fields is not None else list(own)
    unknown = [name for name in names if name not in own]
    if unknown:
        raise ExportError(
            _("%(key)s: %(model)s has no exportable field %(fields)s. Run manage.py check.")
            % {
                "key": f"sources.{source.kind}.{source.name}.fields",
                "model": model._meta.label,
                "fields": ", ".join(map(repr, unknown)),
            }
        )
    return [own[name] for name in names if name not in source.exclude]  # type: ignore[misc]
