"""Rows: user rows (read as values or as instances, the same either way), content and product."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.conf import SourceSettings
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.rows import ModelRows, UserRows
from cdp_bridge.export.runner import ExportOptions, run_export
from cdp_bridge.identity import PersonIdentifier
from cdp_bridge.testing import export_row
from tests.testapp.models import Article, Category, FieldShowcase, Member, Product

from ..conftest import GOOD_SECRET, OTHER_SECRET

pytestmark = pytest.mark.django_db


class Nothing:
    """A user item processor that changes nothing: it makes the export read instances."""

    def process(self, row, user):
        return row


def rows_of(builder, model):
    return builder.rows(list(builder.queryset(model._default_manager.order_by("pk"))))


def test_user_rows_read_as_values_equal_those_read_as_instances(cdp_config):
    cdp_config({})
    User.objects.create(username="ada", email="ada@example.com", first_name="Ada", last_name="L")
    User.objects.create(username="bob", first_name="  ", last_name="")
    User.objects.create(username="cy", last_name="Only")
    as_values = UserRows(User, [], PersonIdentifier.named(None, User))
    as_instances = UserRows(User, [Nothing()], PersonIdentifier.named(None, User))
    assert as_values.reads_values and not as_instances.reads_values
    assert rows_of(as_values, User) == rows_of(as_instances, User)
    assert [row["name"] for row in rows_of(as_values, User)] == ["Ada L", "bob", "Only"]


def test_without_processors_only_the_columns_of_the_row_are_read(cdp_config):
    cdp_config({})
    User.objects.create(username="ada", email="ada@example.com")
    with CaptureQueriesContext(connection) as queries:
        rows_of(UserRows(User, [], PersonIdentifier.named(None, User)), User)
    [select] = queries.captured_queries
    read = select["sql"].split(" FROM ")[0]
    assert '"auth_user"."username"' in read and '"auth_user"."email"' in read
    for column in ("last_login", "is_superuser", "is_staff", "date_joined", "password"):
        assert column not in read  # nothing the row does not show is read


def test_passwords_are_never_read(cdp_config):
    cdp_config({})
    User.objects.create_user("ada", password="s3cret-password")
    for builder in (
        UserRows(User, [], PersonIdentifier.named(None, User)),
        UserRows(User, [Nothing()], PersonIdentifier.named(None, User)),
    ):
        with CaptureQueriesContext(connection) as queries:
            rows_of(builder, User)
        assert "password" not in queries.captured_queries[0]["sql"]


def test_a_user_model_of_its_own_uses_its_naming_and_a_text_identifier(cdp_config):
    cdp_config({})
    named = Member.objects.create(email="ada@example.com", display_name="Ada")
    unnamed = Member.objects.create(email="bob@example.com")
    builder = UserRows(Member, [], PersonIdentifier.named(None, Member))
    assert not builder.reads_values  # not AbstractUser's naming
    rows = {row["login"]: row for row in rows_of(builder, Member)}
    assert rows["ada@example.com"] == {
        "id": str(named.pk),
        "login": "ada@example.com",
        "email": "ada@example.com",
        "name": "Ada",
    }
    assert rows["bob@example.com"]["name"] == "bob@example.com"  # str() of the user
    assert rows["bob@example.com"]["id"] == str(unnamed.pk)


def test_the_id_column_is_the_activations_person_identifier(export_config, receiver):
    activation = {
        "client_id": "raptor",
        "client_secret": GOOD_SECRET,
        "segment_group_identifier": "cdp",
        "person_identifier_field": "email",
    }
    export_config(cdp={"activations": [activation]})
    User.objects.create(username="ada", email="ada@example.com")
    run_export(ExportOptions("user"))
    assert receiver.rows[0]["id"] == "ada@example.com"


def test_activations_matching_on_different_fields_cannot_share_an_id_column(cdp_config):
    activations = [
        {"client_id": "a", "client_secret": GOOD_SECRET, "segment_group_identifier": "cdp"},
        {
            "client_id": "b",
            "client_secret": OTHER_SECRET,
            "segment_group_identifier": "cdp",
            "person_identifier_field": "email",
        },
    ]
    report = cdp_config({"system": {"default": {"cdp": {"activations": activations}}}})
    assert [p.check_id for p in report.problems] == ["cdp_bridge.E021"]
    with pytest.raises(ExportError, match=r"activations\[1\]\.person_identifier_field: matches"):
        run_export(ExportOptions("user"))


def test_a_content_row_has_ibexas_keys_for_each_field(cdp_config, settings):
    cdp_config({})
    settings.LANGUAGE_CODE = "nb"
    category = Category.objects.create(name="Anmeldelser")
    article = Article.objects.create(title="Hei", body="Tekst", category=category)
    Article.objects.filter(pk=article.pk).update(updated_at=datetime(2026, 11, 25, 10, tzinfo=UTC))
    article.refresh_from_db()
    source = SourceSettings("content", "article", "testapp.Article", name_field="title")
    row = export_row(article, kind="content", source=source)
    assert row == {
        "id": article.pk,
        "content_type": "article",
        "name": "Hei",
        "language_code": "nb",
        "field_title_type": "CharField",
        "field_title_language_code": "nb",
        "field_title_value": "Hei",
        "field_body_type": "TextField",
        "field_body_language_code": "nb",
        "field_body_value": "Tekst",
        "field_category_type": "ForeignKey",
        "field_category_language_code": "nb",
        "field_category_value_id": category.pk,
        "field_category_value_name": "Anmeldelser",
        "field_published_type": "BooleanField",
        "field_published_language_code": "nb",
        "field_published_value": True,
        "field_updated_at_type": "DateTimeField",
        "field_updated_at_language_code": "nb",
        "field_updated_at_value": "2026-11-25T10:00:00Z",
    }
    assert list(row)[:4] == ["id", "content_type", "name", "language_code"]


def test_language_field_gives_the_language_of_the_row_and_its_fields(cdp_config):
    cdp_config({})
    obj = FieldShowcase.objects.create(title="Hallo", size="l")
    source = SourceSettings("content", "showcase", "testapp.FieldShowcase", language_field="size")
    row = export_row(obj, kind="content", source=source)
    assert (row["name"], row["language_code"]) == ("Hallo", "l")  # name: str() without name_field
    languages = {row[key] for key in row if key.endswith("_language_code")}
    assert languages == {"l"}


def test_a_product_row_has_code_and_product_type_instead_of_content_type(cdp_config):
    cdp_config({})
    product = Product.objects.create(sku="P-1", name="Nimbus", product_type="x", price="1.50")
    source = SourceSettings("product", "laptop", "testapp.Product", code_field="sku")
    row = export_row(product, kind="product", source=source)
    assert list(row)[:5] == ["id", "code", "product_type", "name", "language_code"]
    assert (row["code"], row["product_type"], row["name"]) == ("P-1", "laptop", "Nimbus")
    assert "content_type" not in row
    without_code = SourceSettings("product", "laptop", "testapp.Product")
    assert export_row(product, kind="product", source=without_code)["code"] == str(product.pk)


def test_fields_and_exclude_choose_the_exported_fields(cdp_config):
    cdp_config({})
    article = Article.objects.create(title="T", body="B")
    only = SourceSettings("content", "a", "testapp.Article", fields=("title", "body"))
    row = export_row(article, kind="content", source=only)
    assert sorted(key for key in row if key.startswith("field_")) == [
        "field_body_language_code",
        "field_body_type",
        "field_body_value",
        "field_title_language_code",
        "field_title_type",
        "field_title_value",
    ]
    exclude = SourceSettings("content", "a", "testapp.Article", exclude=("body", "category"))
    row = export_row(article, kind="content", source=exclude)
    assert not [key for key in row if key.startswith(("field_body_", "field_category_"))]
    assert "field_id_type" not in row  # the primary key is the id column already


def test_a_source_naming_a_missing_field_is_a_clear_error(cdp_config):
    cdp_config({})
    source = SourceSettings("content", "a", "testapp.Article", name_field="headline")
    with pytest.raises(
        ExportError, match=re.escape("sources.content.a.name_field: testapp.Article has no")
    ):
        ModelRows("content", source, Article, [], [])


def test_related_objects_are_fetched_with_the_rows_not_one_query_per_row(export_config, receiver):
    export_config(
        {"sources": {"content": {"showcase": {"model": "testapp.FieldShowcase"}}}},
    )
    tags = [Category.objects.create(name=f"tag{n}") for n in range(3)]
    for number in range(30):
        obj = FieldShowcase.objects.create(title=f"s{number}", category=tags[0])
        obj.tags.set(tags[:2])
    with CaptureQueriesContext(connection) as queries:
        run_export(ExportOptions("content", source="showcase", draft=False, batch_size=1000))
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 2, reads  # the rows with their foreign keys, then all their tags
    assert len(receiver.rows) == 30
    assert receiver.rows[0]["field_category_value_name"] == "tag0"
    assert receiver.rows[0]["field_tags_value_names"] == "tag0, tag1"


class PriceWithCurrency:
    """A field value processor returning several keys: the price in cents, and its currency."""

    def supports(self, field, obj):
        return field.name == "price"

    def process(self, field, obj):
        return {"value": int(obj.price * 100), "currency": "EUR", "unit_symbol": "€"}


class PriceAsText:
    """A field value processor for the price, registered below the built-ins."""

    def supports(self, field, obj):
        return field.name == "price"

    def process(self, field, obj):
        return {"value": f"{obj.price} EUR"}


class NameInCapitals:
    """A field processor for the name, registered below the built-ins."""

    def supports(self, field, obj):
        return field.name == "name"

    def process(self, field, obj):
        return {"capitals": obj.name.upper()}


def test_a_product_row_has_ibexas_keys_around_processors_above_and_below_the_builtins(
    export_config, receiver
):
    export_config(
        {
            "processors": {
                "field": [
                    {"skip": {"types": ["JSONField"]}},
                    {"path": f"{__name__}.NameInCapitals", "priority": -101},
                ],
                "field_value": [
                    {"path": f"{__name__}.PriceWithCurrency", "priority": -99},
                    {"path": f"{__name__}.PriceAsText", "priority": -101},
                ],
            }
        }
    )
    product = Product.objects.create(
        sku="LAP-1", name="Nimbus", product_type="laptop", price="129.90", attributes={"ram": 16}
    )
    run_export(ExportOptions("product"))
    [row] = receiver.rows
    assert row == {
        "id": product.pk,
        "code": "LAP-1",
        "product_type": "product",
        "name": "Nimbus",
        "language_code": "en-us",
        "field_sku_type": "CharField",
        "field_sku_language_code": "en-us",
        "field_sku_value": "LAP-1",
        "field_name_type": "CharField",
        "field_name_language_code": "en-us",
        "field_name_value": "Nimbus",
        "field_product_type_type": "CharField",
        "field_product_type_language_code": "en-us",
        "field_product_type_value": "laptop",
        "field_price_type": "DecimalField",
        "field_price_language_code": "en-us",
        "field_price_value": 12990,
        "field_price_value_currency": "EUR",
        "field_price_value_unit_symbol": "€",
    }
