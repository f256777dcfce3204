"""The built-in field value processors: one test per row of the table in docs/export.md."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import models
from django.test.utils import isolate_apps

from cdp_bridge.checks import check_settings
from cdp_bridge.export import json_hash
from cdp_bridge.export.batches import encode_rows
from cdp_bridge.testing import export_row
from tests.testapp.models import Article, Category, FieldShowcase

pytestmark = pytest.mark.django_db


def columns(obj, field):
    """The columns a content row has for one field, without the ``field_<name>_`` prefix.

    Each field also carries the row's language (``field_<name>_language_code``), checked here.
    """
    prefix = f"field_{field}_"
    row = export_row(obj, kind="content")
    found = {key.removeprefix(prefix): v for key, v in row.items() if key.startswith(prefix)}
    assert found.pop("language_code") == row["language_code"]
    return found


def showcase(**values):
    return FieldShowcase.objects.create(title="Showcase", **values)


@pytest.mark.parametrize(
    ("field", "value", "expected", "internal_type"),
    [
        ("title", "Showcase", "Showcase", "CharField"),
        ("notes", "Long\ntext", "Long\ntext", "TextField"),
        ("uuid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001", "UUIDField"),
        ("email", "ada@example.com", "ada@example.com", "CharField"),
        ("slug", "a-slug", "a-slug", "SlugField"),
        ("url", "https://example.com/", "https://example.com/", "CharField"),
    ],
)
def test_text_uuid_email_slug_and_url_fields_are_strings(field, value, expected, internal_type):
    obj = showcase(**{field: value}) if field != "title" else showcase()
    assert columns(obj, field) == {"type": internal_type, "value": expected}


def test_integers_and_floats_are_numbers():
    obj = showcase(count=42, ratio=0.25)
    assert columns(obj, "count") == {"type": "IntegerField", "value": 42}
    assert columns(obj, "ratio") == {"type": "FloatField", "value": 0.25}


def test_a_float_json_cannot_hold_is_null():
    obj = showcase(ratio=float("nan"))
    assert columns(obj, "ratio")["value"] is None


def test_a_decimal_is_a_number_written_with_its_exact_digits():
    obj = showcase(price=Decimal("12345678901234567.90"))
    assert columns(obj, "price") == {
        "type": "DecimalField",
        "value": Decimal("12345678901234567.90"),
    }
    body = encode_rows([export_row(obj, kind="content")])
    assert b'"field_price_value":12345678901234567.90,' in body


def test_booleans_are_booleans():
    assert columns(showcase(active=True), "active") == {"type": "BooleanField", "value": True}


def test_dates_and_times_are_iso_8601_and_aware_datetimes_are_utc_with_z():
    oslo = ZoneInfo("Europe/Oslo")
    obj = showcase(
        day=date(2026, 11, 25),
        moment=datetime(2026, 11, 25, 10, 30, tzinfo=oslo),
        alarm=time(7, 15),
    )
    assert columns(obj, "day") == {"type": "DateField", "value": "2026-11-25"}
    assert columns(obj, "moment") == {"type": "DateTimeField", "value": "2026-11-25T09:30:00Z"}
    assert columns(obj, "alarm") == {"type": "TimeField", "value": "07:15:00"}


def test_a_naive_datetime_is_iso_8601_without_an_offset(settings):
    settings.USE_TZ = False
    obj = FieldShowcase(pk=1, title="naive", moment=datetime(2026, 11, 25, 10, 30))
    assert columns(obj, "moment")["value"] == "2026-11-25T10:30:00"


def test_a_field_with_choices_has_its_value_and_its_label():
    obj = showcase(size="l", level=2)
    assert columns(obj, "size") == {"type": "CharField", "value": "l", "value_label": "Large"}
    assert columns(obj, "level") == {"type": "IntegerField", "value": 2, "value_label": "High"}
    empty = showcase(level=None)
    assert columns(empty, "level") == {"type": "IntegerField", "value": None, "value_label": None}


def test_foreign_keys_and_one_to_ones_have_the_related_id_and_name():
    category = Category.objects.create(name="Laptops")
    article = Article.objects.create(title="Review")
    obj = showcase(category=category, article=article)
    assert columns(obj, "category") == {
        "type": "ForeignKey",
        "value_id": category.pk,
        "value_name": "Laptops",
    }
    assert columns(obj, "article") == {
        "type": "OneToOneField",
        "value_id": article.pk,
        "value_name": "Review",
    }
    assert columns(showcase(), "category") == {
        "type": "ForeignKey",
        "value_id": None,
        "value_name": None,
    }


def test_many_to_many_fields_join_ids_and_names():
    first, second = Category.objects.create(name="A"), Category.objects.create(name="B")
    obj = showcase()
    obj.tags.set([first, second])
    assert columns(obj, "tags") == {
        "type": "ManyToManyField",
        "value_ids": f"{first.pk}, {second.pk}",
        "value_names": "A, B",
    }
    assert columns(showcase(), "tags") == {
        "type": "ManyToManyField",
        "value_ids": "",
        "value_names": "",
    }


def test_a_json_field_is_compact_json_text():
    obj = showcase(data={"colour": "blå", "sizes": [1, 2]})
    assert columns(obj, "data") == {
        "type": "JSONField",
        "value": '{"colour":"blå","sizes":[1,2]}',
    }


def test_a_file_is_its_storage_url_or_null(settings):
    settings.MEDIA_URL = "/media/"
    obj = showcase(attachment="manuals/guide.pdf")
    assert columns(obj, "attachment") == {"type": "FileField", "value": "/media/manuals/guide.pdf"}
    assert columns(showcase(), "attachment")["value"] is None


@isolate_apps("tests.testapp")
def test_an_image_is_its_storage_url(settings):
    settings.MEDIA_URL = "/media/"

    class Poster(models.Model):
        image = models.ImageField()

        class Meta:
            app_label = "testapp"

        def __str__(self):
            return self.image.name

    row = export_row(Poster(pk=1, image="posters/a.png"), kind="content")
    assert row["field_image_type"] == "FileField"
    assert row["field_image_value"] == "/media/posters/a.png"


def test_anything_else_is_its_text():
    obj = showcase(duration=timedelta(hours=2), address="192.0.2.1")
    assert columns(obj, "duration") == {"type": "DurationField", "value": "2:00:00"}
    assert columns(obj, "address") == {"type": "GenericIPAddressField", "value": "192.0.2.1"}


def test_every_value_of_a_row_is_a_scalar_the_cdp_can_store():
    category = Category.objects.create(name="A")
    obj = showcase(
        uuid=uuid.uuid4(),
        count=1,
        ratio=1.5,
        price=Decimal("1.00"),
        day=date(2026, 1, 1),
        moment=datetime(2026, 1, 1, tzinfo=UTC),
        alarm=time(1),
        size="s",
        level=1,
        category=category,
        data=[1],
        duration=timedelta(1),
        address="::1",
    )
    obj.tags.add(category)
    row = export_row(obj, kind="content")
    assert all(isinstance(v, str | int | float | bool | Decimal | type(None)) for v in row.values())


def test_json_hash_exports_fields_of_its_types_as_compact_json_text():
    first, second = Category.objects.create(name="A"), Category.objects.create(name="B")
    obj = showcase(category=first, duration=timedelta(hours=2), attachment="a/guide.pdf")
    obj.tags.set([first, second])
    as_json = json_hash("ManyToManyField", "ForeignKey", "DurationField", "FileField")
    row = export_row(obj, kind="content", field_value=[as_json])
    assert row["field_tags_value"] == f"[{first.pk},{second.pk}]"
    assert row["field_category_value"] == str(first.pk)
    assert row["field_duration_value"] == '"P0DT02H00M00S"'
    assert row["field_attachment_value"] == '"a/guide.pdf"'
    assert row["field_tags_type"] == "ManyToManyField"  # the type stays the field's own
    assert row["field_title_value"] == "Showcase"  # other types keep the built-ins


JSON_NOTHING = json_hash("JSONField", "Nothing")


def test_a_json_hash_naming_an_unknown_type_is_a_check_error(cdp_config):
    cdp_config({"processors": {"field_value": [f"{__name__}.JSON_NOTHING"]}})
    [message] = check_settings()
    assert (message.id, message.obj) == ("cdp_bridge.E050", "processors.field_value[0]")
    assert message.msg == (
        "json_hash(types=['JSONField', 'Nothing']): Django has no field type 'Nothing'."
    )
