"""The extension points: user item, field and field value processors; skip(); the test helper."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export import field_processor, field_value_processor, skip, user_item_processor
from cdp_bridge.export.processors import registered_processors
from cdp_bridge.models import ExportRun
from cdp_bridge.testing import export_row
from tests.testapp.models import Article, Category

pytestmark = pytest.mark.django_db

HERE = __name__


class Country:
    """A user item processor: adds a column."""

    def process(self, row, user):
        return {**row, "country": "NO"}


class Shout:
    """A user item processor that reads what the one before it added."""

    def process(self, row, user):
        return {**row, "country": str(row.get("country", "")).lower() + "!"}


class LastLogin:
    """Reads a related value for every row, and asks for it with the rows."""

    def prepare_queryset(self, users):
        return users.select_related(None).prefetch_related("groups")

    def process(self, row, user):
        return {**row, "groups": ", ".join(group.name for group in user.groups.all())}


class UpperTitle:
    """A field value processor for one field."""

    def supports(self, field, obj):
        return field.name == "title"

    def process(self, field, obj):
        return {"value": obj.title.upper(), "length": len(obj.title)}


class TitleAsWords:
    """A field processor that exports a field its own way."""

    def supports(self, field, obj):
        return field.name == "title"

    def process(self, field, obj):
        return {"words": len(obj.title.split())}


def test_user_item_processors_run_highest_priority_first_each_on_the_previous_row(cdp_config):
    cdp_config(
        {
            "processors": {
                "user_item": [
                    {"path": f"{HERE}.Shout", "priority": 1},
                    {"path": f"{HERE}.Country", "priority": 10},
                ]
            }
        }
    )
    user = User.objects.create(username="ada")
    row = export_row(user, user_item=registered_processors("user_item"))
    assert row["country"] == "no!"


def test_a_decorated_processor_is_registered_with_its_priority(cdp_config):
    cdp_config({"processors": {"user_item": [{"path": f"{HERE}.Shout", "priority": 5}]}})
    user_item_processor(priority=10)(Country)
    [first, second] = registered_processors("user_item")
    assert (type(first), type(second)) == (Country, Shout)


def test_registered_processors_reach_the_export(export_config, receiver):
    export_config({"processors": {"user_item": [f"{HERE}.Country"]}})
    User.objects.create(username="ada", first_name="Ada", last_name="Lovelace")
    call_command("stream_user_data", verbosity=0)
    [row] = receiver.rows
    assert row["country"] == "NO"
    assert row["name"] == "Ada Lovelace"


def test_a_processor_fetches_what_it_reads_with_the_rows_not_per_row(export_config, receiver):
    export_config({"processors": {"user_item": [f"{HERE}.LastLogin"]}})
    User.objects.bulk_create(User(username=f"user{n}") for n in range(30))
    with CaptureQueriesContext(connection) as queries:
        call_command("stream_user_data", "--no-draft", verbosity=0)
    group_queries = [q for q in queries.captured_queries if "auth_group" in q["sql"]]
    assert len(group_queries) == 1
    assert len(receiver.rows) == 30


def test_a_field_value_processor_wins_over_the_builtin_and_its_keys_are_prefixed(cdp_config):
    cdp_config({})
    article = Article.objects.create(title="Django rocks")
    row = export_row(article, kind="content", field_value=[UpperTitle()])
    assert row["field_title_type"] == "CharField"
    assert row["field_title_value"] == "DJANGO ROCKS"
    assert row["field_title_length"] == 12
    assert row["field_body_value"] == ""  # other fields keep the built-ins


def test_a_field_processor_decides_how_a_field_is_exported(cdp_config):
    cdp_config({})
    row = export_row(Article.objects.create(title="a b c"), kind="content", field=[TitleAsWords()])
    assert row["field_title_words"] == 3
    assert "field_title_type" not in row


def test_skip_drops_a_field_of_that_name_in_every_model(cdp_config):
    cdp_config({})
    dropped = skip("title", "testapp.Article.body")
    article = Article.objects.create(title="Hidden", body="Also hidden")
    row = export_row(article, kind="content", field=[dropped])
    assert not [key for key in row if key.startswith(("field_title_", "field_body_"))]
    assert row["name"] == "Hidden"  # the fixed columns stay
    assert "field_published_value" in row


def test_skip_with_a_model_label_leaves_other_models_alone(cdp_config):
    cdp_config({})
    dropped = skip("testapp.Article.title")
    row = export_row(Category.objects.create(name="kept"), kind="content", field=[dropped])
    assert row["field_name_value"] == "kept"
    row = export_row(Article.objects.create(title="gone"), kind="content", field=[dropped])
    assert "field_title_value" not in row


def test_skip_is_registered_like_any_field_processor(export_config, receiver):
    field_processor(priority=100)(skip("body"))
    export_config()
    Article.objects.create(title="Kept", body="secret draft")
    call_command("stream_content_data", verbosity=0)
    [row] = receiver.rows
    assert "field_body_value" not in row
    assert row["field_title_value"] == "Kept"


def test_a_decorated_field_value_processor_applies_to_products_too(export_config, receiver):
    field_value_processor(priority=5)(UpperTitle)
    export_config(
        {
            "sources": {
                "product": {
                    "product": {
                        "model": "testapp.Article",
                        "code_field": "title",
                        "name_field": "title",
                    }
                }
            }
        }
    )
    Article.objects.create(title="lower")
    call_command("stream_product_data", verbosity=0)
    assert receiver.rows[0]["field_title_value"] == "LOWER"


def test_a_processor_that_raises_stops_the_export_naming_the_processor_and_row(
    export_config, receiver
):
    class Broken:
        def process(self, row, user):
            raise KeyError("profile")

    user_item_processor()(Broken)
    export_config()
    user = User.objects.create(username="ada")
    with pytest.raises(CommandError) as error:
        call_command("stream_user_data", verbosity=0)
    assert f"user {user.pk}: " in str(error.value)
    assert "Broken raised KeyError: 'profile'" in str(error.value)
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED
    assert receiver.rows == []


def test_a_processor_returning_a_value_the_cdp_cannot_store_is_refused(cdp_config):
    class Listy:
        def process(self, row, user):
            return {**row, "tags": ["a", "b"]}

    cdp_config({})
    with pytest.raises(ExportError, match=r"returned \['a', 'b'\] for 'tags', which is not a"):
        export_row(User.objects.create(username="ada"), user_item=[Listy()])


def test_a_builtin_that_cannot_render_a_value_says_what_to_do(cdp_config):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no text")

    cdp_config({})
    article = Article.objects.create(title="x", body="fine")
    article.body = Unprintable()
    with pytest.raises(ExportError) as error:
        export_row(article, kind="content")
    assert f"testapp.Article.body of row {article.pk}: cannot render TextField value" in str(
        error.value
    )
    assert "skip()" in str(error.value)
    article.title = Unprintable()  # Article.__str__ returns it: the row has no name
    with pytest.raises(ExportError, match=f"testapp.Article row {article.pk}: cannot read its"):
        export_row(article, kind="content")


def test_a_processor_path_that_cannot_be_imported_is_a_clear_error(export_config):
    export_config({"processors": {"field": ["tests.nowhere.Processor"]}})
    with pytest.raises(CommandError, match=r"processors.field\[0\]: the processor 'tests.nowhere"):
        call_command("stream_content_data", verbosity=0)


def test_an_object_without_the_methods_is_not_a_processor(cdp_config):
    cdp_config({"processors": {"field_value": [f"{HERE}.Country"]}})
    with pytest.raises(ExportError, match="is not a field_value processor: it has no supports"):
        registered_processors("field_value")
    with pytest.raises(TypeError, match="has no supports"):
        field_processor()(Country)
