"""The extension points: user item, field and field value processors; skip(); the test helper."""

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from cdp_bridge.checks import check_settings
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export import (
    BaseUserItemProcessor,
    field_processor,
    field_value_processor,
    skip,
    user_item_processor,
)
from cdp_bridge.export.processors import registered_processors
from cdp_bridge.export.runner import ExportOptions, run_export
from cdp_bridge.models import ExportRun
from cdp_bridge.testing import export_row
from tests.testapp.models import Article, Category, CustomerProfile, FieldShowcase

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


def test_a_decorated_processor_runs_in_the_order_of_its_priority(cdp_config):
    cdp_config({"processors": {"user_item": [{"path": f"{HERE}.Shout", "priority": 5}]}})
    user_item_processor(priority=10)(Country)
    row = export_row(
        User.objects.create(username="ada"), user_item=registered_processors("user_item")
    )
    assert row["country"] == "no!"  # Country (10) first, then Shout (5) on its row


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
    title = {key: value for key, value in row.items() if key.startswith("field_title_")}
    assert title == {
        "field_title_type": "CharField",
        "field_title_language_code": "en-us",
        "field_title_value": "DJANGO ROCKS",
        "field_title_value_length": 12,  # any key but "value" is value_<key>
    }
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


@pytest.mark.parametrize(
    ("priority", "wins"), [(-99, True), (-100, False), (-101, False), (100, True)]
)
def test_a_processor_above_the_builtins_at_minus_100_wins_and_one_below_loses(
    cdp_config, priority, wins
):
    cdp_config(
        {
            "processors": {
                "field": [{"path": f"{HERE}.TitleAsWords", "priority": priority}],
                "field_value": [{"path": f"{HERE}.UpperTitle", "priority": priority}],
            }
        }
    )
    article = Article.objects.create(title="Django rocks", body="x")
    field = registered_processors("field")
    field_value = registered_processors("field_value")
    row = export_row(article, kind="content", field=field)
    assert ("field_title_words" in row) is wins
    assert row.get("field_title_value") == (None if wins else "Django rocks")
    row = export_row(article, kind="content", field_value=field_value)
    assert row["field_title_value"] == ("DJANGO ROCKS" if wins else "Django rocks")


def test_skip_by_type_drops_every_field_of_an_internal_type(cdp_config):
    cdp_config({})
    obj = FieldShowcase.objects.create(title="Shown", data={"a": 1}, notes="n")
    row = export_row(obj, kind="content", field=[skip(types=["JSONField", "TextField"])])
    assert not [key for key in row if key.startswith(("field_data_", "field_notes_"))]
    assert row["field_title_value"] == "Shown"


def test_skip_by_a_field_class_name_drops_that_class_and_its_subclasses(cdp_config):
    cdp_config({})
    obj = FieldShowcase.objects.create(title="t", email="ada@example.com", url="https://x.test/")
    exported = export_row(obj, kind="content", field=[skip(types=["EmailField"])])
    assert "field_email_value" not in exported
    assert exported["field_url_type"] == "CharField"  # an URLField, exported as CharField
    exported = export_row(obj, kind="content", field=[skip(types=["CharField"])])
    assert not [key for key in exported if key.startswith(("field_title_", "field_email_"))]
    assert not [key for key in exported if key.startswith(("field_url_", "field_slug_"))]


def test_skip_by_a_field_class_or_its_dotted_path(cdp_config):
    cdp_config({})
    obj = FieldShowcase.objects.create(title="t")
    rule = skip(types=[models.URLField, "django.db.models.UUIDField"])
    row = export_row(obj, kind="content", field=[rule])
    assert not [key for key in row if key.startswith(("field_url_", "field_uuid_"))]
    assert row["field_email_type"] == "CharField"


def test_a_skip_rule_in_settings_drops_fields_by_name_and_type(export_config, receiver):
    export_config(
        {"processors": {"field": [{"skip": {"fields": ["body"], "types": ["BooleanField"]}}]}}
    )
    Article.objects.create(title="Kept", body="secret draft")
    run_export(ExportOptions("content"))
    [row] = receiver.rows
    assert sorted(key for key in row if key.startswith("field_")) == [
        "field_category_language_code",
        "field_category_type",
        "field_category_value_id",
        "field_category_value_name",
        "field_title_language_code",
        "field_title_type",
        "field_title_value",
        "field_updated_at_language_code",
        "field_updated_at_type",
        "field_updated_at_value",
    ]
    assert check_settings() == []


def test_a_skip_rule_naming_a_type_django_does_not_have_is_a_check_error(export_config):
    export_config({"processors": {"field": [{"skip": {"types": ["JSONField", "JSONFeild"]}}]}})
    [message] = check_settings()
    assert (message.id, message.obj) == ("cdp_bridge.E050", "processors.field[0].skip.types[1]")
    assert message.msg == "Django has no field type 'JSONFeild'."
    assert message.hint.startswith("Did you mean 'JSONField'?")
    with pytest.raises(CommandError) as error:
        call_command("stream_content_data", verbosity=0)
    assert str(error.value).startswith(
        "processors.field[0].skip.types[1]: Django has no field type 'JSONFeild'."
    )


def test_a_field_class_path_that_cannot_be_imported_is_a_check_error(cdp_config):
    cdp_config(
        {"processors": {"field": [{"skip": {"types": ["myapp.fields.Money", f"{HERE}.Shout"]}}]}}
    )
    messages = check_settings()
    assert [(m.id, m.obj) for m in messages] == [
        ("cdp_bridge.E050", "processors.field[0].skip.types[0]"),
        ("cdp_bridge.E050", "processors.field[0].skip.types[1]"),
    ]
    assert messages[0].msg.startswith("the field class 'myapp.fields.Money' cannot be imported")
    assert messages[1].msg == f"'{HERE}.Shout' is not a model field class."


def test_a_skip_rule_naming_a_field_no_model_has_is_a_check_error(cdp_config):
    skipped = ["internal_note", "testapp.Articel.body", "testapp.Article.bodi"]
    cdp_config({"processors": {"field": [{"skip": {"fields": skipped}}]}})
    messages = check_settings()
    assert [(m.id, m.obj) for m in messages] == [
        ("cdp_bridge.E051", f"processors.field[0].skip.fields[{index}]") for index in range(3)
    ]
    assert messages[0].msg == "no model has a field 'internal_note', so nothing is skipped."
    assert messages[1].msg == "the model 'testapp.Articel' does not exist."
    assert messages[2].msg == "testapp.Article has no field 'bodi'."
    assert messages[2].hint.startswith("Use one of: ")


def test_a_decorated_rule_with_an_unknown_type_is_reported_by_the_check_too(cdp_config):
    cdp_config({})
    field_processor()(skip(types=["Nothing"]))
    [message] = check_settings()
    assert message.id == "cdp_bridge.E050"
    assert message.obj == "field_processor(priority=0)(skip(types=['Nothing']))"
    assert message.msg == "skip(types=['Nothing']): Django has no field type 'Nothing'."


@pytest.mark.parametrize(
    ("entry", "check_id", "path", "message"),
    [
        (
            {"path": f"{HERE}.TitleAsWords", "skip": {"fields": ["body"]}},
            "cdp_bridge.E036",
            "processors.field[0].skip",
            "an entry has both a path and a skip rule.",
        ),
        ({"skip": {}}, "cdp_bridge.E026", "processors.field[0].skip.fields", "the skip rule names"),
        ({"skip": {"types": []}}, "cdp_bridge.E026", "processors.field[0].skip.fields", "the skip"),
        ({"skip": {"type": ["JSONField"]}}, "cdp_bridge.E001", "processors.field[0].skip.type", ""),
        ({"priority": 5}, "cdp_bridge.E022", "processors.field[0].path", "is required."),
    ],
)
def test_a_malformed_skip_entry_is_a_configuration_problem(
    cdp_config, entry, check_id, path, message
):
    report = cdp_config({"processors": {"field": [entry]}})
    [problem] = [p for p in report.problems if (p.check_id, p.path) == (check_id, path)]
    assert problem.message.startswith(message)


def test_skip_rules_belong_to_field_processors_only(cdp_config):
    report = cdp_config({"processors": {"field_value": [{"skip": {"fields": ["body"]}}]}})
    assert [(p.check_id, p.path) for p in report.problems] == [
        ("cdp_bridge.E001", "processors.field_value[0].skip"),
        ("cdp_bridge.E022", "processors.field_value[0].path"),
    ]


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


class DateOfBirth(BaseUserItemProcessor):
    """Ibexa's DateOfBirthUserItemProcessor, ported: the date of birth from the profile."""

    profile_field = "profile"

    def do_process(self, row, user):
        profile = self.get_profile(user)
        if profile is None or profile.date_of_birth is None:
            return row
        return {**row, "date_of_birth": profile.date_of_birth.isoformat()}


class Unfinished(BaseUserItemProcessor):
    """A port that forgot its do_process()."""


def test_a_ported_user_item_processor_reads_the_profile_with_the_rows(export_config, receiver):
    export_config({"processors": {"user_item": [{"path": f"{HERE}.DateOfBirth", "priority": 100}]}})
    born = User.objects.create(username="ada", first_name="Ada")
    CustomerProfile.objects.create(user=born, date_of_birth=date(1815, 12, 10))
    CustomerProfile.objects.create(user=User.objects.create(username="bob"))
    User.objects.create(username="cy")  # no profile at all
    with CaptureQueriesContext(connection) as queries:
        run_export(ExportOptions("user", draft=False))
    assert len([q for q in queries.captured_queries if "customerprofile" in q["sql"]]) == 1
    rows = {row["login"]: row for row in receiver.rows}
    assert rows["ada"] == {
        "id": born.pk,
        "login": "ada",
        "email": "",
        "name": "Ada",
        "date_of_birth": "1815-12-10",
    }
    assert "date_of_birth" not in rows["bob"]
    assert "date_of_birth" not in rows["cy"]


def test_a_port_without_do_process_is_refused_when_registered(export_config):
    with pytest.raises(TypeError, match=r"abstract method '?do_process"):
        user_item_processor()(Unfinished)
    export_config({"processors": {"user_item": [f"{HERE}.Unfinished"]}})
    User.objects.create(username="ada")
    with pytest.raises(CommandError) as error:
        call_command("stream_user_data", verbosity=0)
    assert str(error.value).startswith(
        f"processors.user_item[0]: '{HERE}.Unfinished' cannot be created without arguments"
    )


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
