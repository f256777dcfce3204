"""Field types: Django's internal types, and the names a rule can give a type."""

import importlib.util

import pytest
from django.db import models
from django.test.utils import isolate_apps

from cdp_bridge.field_types import DJANGO_FIELD_TYPES, FieldTypes


def field_classes(module):
    """The field classes a module exports (a GeneratedField has its output field's type)."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, models.Field)
        and value not in (models.Field, models.GeneratedField)
    ]


def internal_type(cls):
    """The internal type a field class declares, without the arguments it needs to be built."""
    return cls.get_internal_type(object.__new__(cls))


def test_every_internal_type_of_djangos_own_fields_is_known():
    declared = {internal_type(cls) for cls in field_classes(models)}
    if importlib.util.find_spec("psycopg"):
        from django.contrib.postgres import fields as postgres

        declared |= {
            internal_type(cls)
            for cls in field_classes(postgres)
            if cls.__name__ not in ("RangeField", "ContinuousRangeField")
        }
    assert declared - DJANGO_FIELD_TYPES == set()


def test_a_name_matches_its_internal_type_and_its_class_names():
    email = models.EmailField()
    assert FieldTypes(["EmailField"]).matches(email)
    assert FieldTypes(["CharField"]).matches(email)  # its internal type, and its base class
    assert not FieldTypes(["EmailField"]).matches(models.CharField())
    assert FieldTypes(["FileField"]).matches(models.ImageField())


def test_a_field_declaring_the_internal_type_of_another_class_matches_that_type():
    class Cents(models.Field):
        """Stored in a column of DecimalField's type, without being a DecimalField."""

        def get_internal_type(self):
            return "DecimalField"

    assert FieldTypes(["DecimalField"]).matches(Cents())
    assert not FieldTypes(["IntegerField"]).matches(Cents())


def test_an_unknown_name_is_a_problem_with_a_suggestion(db):
    [problem] = FieldTypes(["JSONField", "Textfield"]).problems()
    assert (problem.index, problem.message) == (1, "Django has no field type 'Textfield'.")
    assert problem.hint.startswith("Did you mean 'TextField'?")


@isolate_apps("tests.testapp")
def test_a_project_field_is_known_by_its_class_name_and_its_internal_type():
    class MoneyField(models.DecimalField):
        def get_internal_type(self):
            return "MoneyField"

    class Offer(models.Model):
        price = MoneyField(max_digits=10, decimal_places=2)

        class Meta:
            app_label = "testapp"

        def __str__(self):
            return str(self.price)

    assert FieldTypes(["MoneyField", MoneyField, "DecimalField"]).problems() == []
    assert FieldTypes(["DecimalField"]).matches(Offer._meta.get_field("price"))


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("django.db.models.NoSuchField", "the field class 'django.db.models.NoSuchField' cannot"),
        ("django.db.models.Model", "'django.db.models.Model' is not a model field class."),
        (int, "<class 'int'> is not a model field class."),
    ],
)
def test_a_class_that_is_no_field_class_is_a_problem(written, message):
    [problem] = FieldTypes([written]).problems()
    assert problem.message.startswith(message)
