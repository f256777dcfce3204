"""Rows: user rows (read as values or as instances, the same either way), content and product."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.conf import SourceSettings
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.rows import ModelRows, UserRows
from cdp_bridge.export.runner import run_export
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


def test_users_are_read_as_values_without_model_instances(cdp_config):
    cdp_config({})
    User.objects.create(username="ada")
    [record] = UserRows(User, [], PersonIdentifier.named(None, User)).queryset(User.objects.all())
    assert isinstance(record, tuple)


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
    run_export("user")
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
        run_export("user")


def test_a_content_row_starts_with_its_id_type_name_and_language(cdp_config, settings):
    cdp_config({})
    settings.LANGUAGE_CODE = "nb"
    article = Article.objects.create(title="Hei")
    source = SourceSettings("content", "article", "testapp.Article", name_field="title")
    row = export_row(article, kind="content", source=source)
    assert list(row)[:4] == ["id", "content_type", "name", "language_code"]
    assert [row["id"], row["content_type"], row["name"], row["language_code"]] == [
        article.pk,
        "article",
        "Hei",
        "nb",
    ]


def test_language_field_gives_the_language_and_without_name_field_the_name_is_str(cdp_config):
    cdp_config({})
    obj = FieldShowcase.objects.create(title="Hallo", size="l")
    source = SourceSettings("content", "showcase", "testapp.FieldShowcase", language_field="size")
    row = export_row(obj, kind="content", source=source)
    assert (row["name"], row["language_code"]) == ("Hallo", "l")


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
        "field_body_type",
        "field_body_value",
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
        run_export("content", source="showcase", draft=False, batch_size=1000)
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 2, reads  # the rows with their foreign keys, then all their tags
    assert len(receiver.rows) == 30
    assert receiver.rows[0]["field_category_value_name"] == "tag0"
    assert receiver.rows[0]["field_tags_value_names"] == "tag0, tag1"
