"""Django's field types: internal types (``Field.get_internal_type()``) and naming them in settings.

A rule that applies to "a type of field" (the export's ``skip`` and ``json_hash`` processors)
names it as people see it: by an internal type such as ``"JSONField"`` (what the export's
``field_<f>_type`` column shows), by the name of a field class such as ``"EmailField"``, or by
the class itself (``models.JSONField``, or its dotted path ``"myapp.fields.MoneyField"``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Field
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

# The range of a 64-bit integer column (BigIntegerField, BigAutoField).
MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1

INTEGER_FIELD_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)

# Every internal type Django's own fields declare, those of django.contrib.postgres included
# (which are only importable where psycopg is installed).
DJANGO_FIELD_TYPES = INTEGER_FIELD_TYPES | frozenset(
    {
        "BinaryField",
        "BooleanField",
        "CharField",
        "CompositePrimaryKey",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "DurationField",
        "FileField",
        "FilePathField",
        "FloatField",
        "ForeignKey",
        "ForeignObject",
        "GenericIPAddressField",
        "IPAddressField",
        "JSONField",
        "ManyToManyField",
        "OneToOneField",
        "SlugField",
        "TextField",
        "TimeField",
        "UUIDField",
        # django.contrib.postgres
        "ArrayField",
        "HStoreField",
        "BigIntegerRangeField",
        "DateRangeField",
        "DateTimeRangeField",
        "DecimalRangeField",
        "IntegerRangeField",
        "SearchVectorField",
    }
)


@dataclass(frozen=True)
class TypeProblem:
    """A field type named in a rule that does not exist: its position in the rule, and why."""

    index: int
    message: str
    hint: str


class FieldTypes:
    """A set of field types, as a rule names them: see the module docstring.

    A name matches a field whose internal type it is, or whose class (or one of its base
    classes) has that name; a class matches its instances. Dotted paths are imported on first
    use, so a rule can be written in a module that models import.
    """

    def __init__(self, types: Iterable[str | type[Field[Any, Any]]]) -> None:
        self.written = tuple(types)
        self.names = frozenset(t for t in self.written if isinstance(t, str) and "." not in t)
        self._classes: tuple[type, ...] | None = None
        self._matches: dict[Field[Any, Any], bool] = {}

    def __bool__(self) -> bool:
        return bool(self.written)

    def matches(self, field: Field[Any, Any]) -> bool:
        """Whether ``field`` is of one of these types."""
        known = self._matches.get(field)
        if known is None:
            known = self._matches[field] = (
                field.get_internal_type() in self.names
                or any(kind.__name__ in self.names for kind in type(field).__mro__)
                or isinstance(field, self.classes())
            )
        return known

    def classes(self) -> tuple[type, ...]:
        if self._classes is None:
            self._classes = tuple(
                import_string(t) if isinstance(t, str) else t
                for t in self.written
                if not isinstance(t, str) or "." in t
            )
        return self._classes

    def problems(self) -> list[TypeProblem]:
        """The types that name nothing Django or the project has (needs the app registry)."""
        problems: list[TypeProblem] = []
        known: frozenset[str] | None = None
        for index, written in enumerate(self.written):
            if isinstance(written, str) and "." in written:
                problem = _class_path_problem(written)
            elif isinstance(written, str):
                known = known if known is not None else known_field_type_names()
                problem = None if written in known else _unknown_name(written, known)
            else:
                problem = (
                    None
                    if _is_field_class(written)
                    else (
                        _("%(type)s is not a model field class.") % {"type": repr(written)},
                        _("Give a subclass of django.db.models.Field."),
                    )
                )
            if problem:
                problems.append(TypeProblem(index, *problem))
        return problems

    def __repr__(self) -> str:
        return repr([t if isinstance(t, str) else t.__qualname__ for t in self.written])


def known_field_type_names() -> frozenset[str]:
    """Every name a rule can use: Django's internal types, and the field classes and internal
    types of what is loaded (third-party and project fields included)."""
    classes = frozenset(cls.__name__ for cls in _field_classes(Field))
    in_models = frozenset(
        field.get_internal_type()
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if isinstance(field, Field)
    )
    return DJANGO_FIELD_TYPES | classes | in_models | {Field.__name__}


def _field_classes(base: type) -> Iterator[type]:
    subclasses: list[type] = base.__subclasses__()
    for cls in subclasses:
        yield cls
        yield from _field_classes(cls)


def _is_field_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Field)


def _class_path_problem(path: str) -> tuple[str, str] | None:
    try:
        target = import_string(path)
    except ImportError as error:
        return (
            _("the field class %(path)s cannot be imported (%(error)s).")
            % {"path": repr(path), "error": error},
            _("Fix the dotted path (module.ClassName), or name the field type without dots."),
        )
    if _is_field_class(target):
        return None
    return (
        _("%(type)s is not a model field class.") % {"type": repr(path)},
        _("Give a subclass of django.db.models.Field."),
    )


def _unknown_name(name: str, known: frozenset[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    advice = _(
        "Name an internal type as the field_<f>_type column shows it (CharField, JSONField ...), "
        "a field class (EmailField), or a class's dotted path."
    )
    hint = (
        _("Did you mean %(key)s? %(advice)s") % {"key": repr(close[0]), "advice": advice}
        if close
        else advice
    )
    return _("Django has no field type %(type)s.") % {"type": repr(name)}, hint
