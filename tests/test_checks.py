"""System checks: each rule reported with its stable id, the key path and a hint."""

import contextlib
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge.checks import check_database, check_deployment, check_settings
from cdp_bridge.conf import load_yaml
from cdp_bridge.models import SegmentGroup

from .conftest import GOOD_SECRET

ACTIVATION = {
    "client_id": "raptor",
    "client_secret": GOOD_SECRET,
    "segment_group_identifier": "cdp_audiences",
}


def every_check():
    """The messages of every check, those of the database and deployment checks included."""
    return [*check_settings(), *check_database(databases=["default"]), *check_deployment()]


def messages_by_id(cdp_config, raw):
    cdp_config(raw)
    return {message.id: message for message in every_check()}


def check_output(*args):
    """What ``manage.py check`` (or another command, its checks run) writes, warnings included."""
    out = io.StringIO()
    checks_run = {} if args[0] == "check" else {"skip_checks": False}
    call_command(*args, stdout=out, stderr=out, **checks_run)
    return out.getvalue()


def test_a_valid_configuration_passes_every_check(cdp_config, db):
    SegmentGroup.objects.create(identifier="cdp_audiences", name="CDP")
    assert (
        messages_by_id(
            cdp_config,
            {
                "system": {
                    "default": {"cdp": {"account_number": 123456, "activations": [ACTIVATION]}}
                },
                "sources": {
                    "content": {
                        "article": {
                            "model": "testapp.Article",
                            "name_field": "title",
                            "filter": {"published__exact": True},
                        }
                    }
                },
            },
        )
        == {}
    )


def test_configuration_problems_become_errors_with_the_path_and_hint(cdp_config):
    messages = messages_by_id(cdp_config, {"system": {"default": {"cdp": {"acount_number": 1}}}})
    message = messages["cdp_bridge.E001"]
    assert message.is_serious()
    assert message.obj == "system.default.cdp.acount_number"
    assert message.hint == "Did you mean 'account_number'?"


def test_a_source_model_that_does_not_exist(cdp_config):
    message = messages_by_id(
        cdp_config, {"sources": {"product": {"laptop": {"model": "shop.Laptop"}}}}
    )["cdp_bridge.E010"]
    assert message.obj == "sources.product.laptop.model"
    assert "'shop.Laptop' does not exist" in message.msg


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ({"name_field": "headline"}, "sources.content.article.name_field"),
        ({"fields": ["title", "summary"]}, "sources.content.article.fields"),
        ({"exclude": ["secret"]}, "sources.content.article.exclude"),
        ({"modified_field": "changed"}, "sources.content.article.modified_field"),
        ({"filter": {"status__in": ["live"]}}, "sources.content.article.filter"),
    ],
)
def test_a_source_field_that_does_not_exist(cdp_config, source, path):
    message = messages_by_id(
        cdp_config, {"sources": {"content": {"article": {"model": "testapp.Article", **source}}}}
    )["cdp_bridge.E011"]
    assert message.obj == path
    assert "title" in message.hint  # lists the fields there are


def test_a_queryset_callable_that_cannot_be_imported(cdp_config):
    message = messages_by_id(
        cdp_config, {"sources": {"content": {"article": {"queryset": "tests.nowhere.articles"}}}}
    )["cdp_bridge.E016"]
    assert message.obj == "sources.content.article.queryset"


def test_a_processor_that_cannot_be_imported(cdp_config):
    message = messages_by_id(
        cdp_config, {"processors": {"field_value": ["tests.nowhere.Processor"]}}
    )["cdp_bridge.E015"]
    assert message.obj == "processors.field_value[0].path"


class NeedsArguments:
    """A processor class the export cannot create: its constructor needs an argument."""

    def __init__(self, prefix):
        self.prefix = prefix

    def process(self, row, user):
        return row


class ProcessesOneArgument:
    """A user item processor whose process() does not take (row, user)."""

    def process(self, row):
        return row


class OnlySupports:
    """Half a field value processor: it has no process()."""

    def supports(self, field, obj):
        return True


def process(row, user):
    """A function, where the export needs an object with a process() method."""
    return row


AN_INSTANCE = ProcessesOneArgument()


@pytest.mark.parametrize(
    ("kind", "path", "said"),
    [
        ("user_item", f"{__name__}.NeedsArguments", "cannot be created without arguments"),
        ("user_item", f"{__name__}.ProcessesOneArgument", "process(row, user)"),
        ("user_item", f"{__name__}.AN_INSTANCE", "process(row, user)"),
        ("user_item", f"{__name__}.process", "it has no process()"),
        ("user_item", "tests.testapp", "it has no process()"),
        ("field_value", f"{__name__}.OnlySupports", "it has no process()"),
        ("field", "math.pi", "it has no supports() or process()"),
    ],
)
def test_a_processor_that_imports_but_is_not_a_processor_fails_the_check(
    cdp_config, kind, path, said
):
    messages = messages_by_id(cdp_config, {"processors": {kind: [{"path": path}]}})
    assert "cdp_bridge.E015" not in messages
    message = messages["cdp_bridge.E038"]
    assert message.is_serious()
    assert message.obj == f"processors.{kind}[0].path"
    assert said in message.msg
    assert message.hint


def test_a_processor_of_the_right_shape_passes_the_check(cdp_config):
    assert (
        messages_by_id(
            cdp_config,
            {
                "processors": {
                    "user_item": ["tests.export.test_processors.LastLogin"],
                    "field_value": ["tests.export.test_processors.UpperTitle"],
                    "field": ["tests.export.test_processors.TitleAsWords"],
                }
            },
        )
        == {}
    )


def test_a_person_identifier_field_missing_from_the_user_model(cdp_config, db):
    message = messages_by_id(
        cdp_config,
        {
            "system": {
                "default": {
                    "cdp": {
                        "activations": [
                            {**ACTIVATION, "person_identifier_field": "customer_number"}
                        ]
                    }
                }
            }
        },
    )["cdp_bridge.E017"]
    assert message.obj == "system.default.cdp.activations[0].person_identifier_field"


def test_a_person_identifier_field_that_is_not_unique(cdp_config, db):
    message = messages_by_id(
        cdp_config,
        {
            "system": {
                "default": {
                    "cdp": {"activations": [{**ACTIVATION, "person_identifier_field": "email"}]}
                }
            }
        },
    )["cdp_bridge.E017"]
    assert message.msg == "auth.User.email is not unique."


def test_a_unique_person_identifier_field_passes(cdp_config, db):
    raw = {
        "system": {
            "default": {
                "cdp": {"activations": [{**ACTIVATION, "person_identifier_field": "username"}]}
            }
        }
    }
    assert "cdp_bridge.E017" not in messages_by_id(cdp_config, raw)


def test_deliveries_queued_for_celery_need_celery_installed(cdp_config, db, monkeypatch):
    monkeypatch.setattr("cdp_bridge.checks.find_spec", lambda name: None)
    message = messages_by_id(cdp_config, {"webhook": {"queue": "celery"}})["cdp_bridge.E018"]
    assert message.obj == "webhook.queue"
    assert "cdp_process_deliveries" in message.hint


def test_an_activation_whose_segment_group_does_not_exist_yet(cdp_config, db):
    message = messages_by_id(
        cdp_config, {"system": {"default": {"cdp": {"activations": [ACTIVATION]}}}}
    )["cdp_bridge.W001"]
    assert not message.is_serious()
    assert "'cdp_audiences' does not exist" in message.msg
    assert "409" in message.hint


def test_check_reads_the_database_only_when_given_one_and_migrate_does(cdp_config, db):
    cdp_config({"system": {"default": {"cdp": {"activations": [ACTIVATION]}}}})
    with CaptureQueriesContext(connection) as queries:
        plain = check_output("check")
    assert plain == "System check identified no issues (0 silenced).\n"
    # (Django may probe what the database supports, once: none of cdp_bridge's tables.)
    assert [q["sql"] for q in queries if "cdp_bridge" in q["sql"]] == []
    assert "cdp_bridge.W001" in check_output("check", "--database", "default")
    assert "cdp_bridge.W001" in check_output("migrate", "--verbosity", "0")
    SegmentGroup.objects.create(identifier="cdp_audiences", name="CDP")
    assert "cdp_bridge.W001" not in check_output("check", "--database", "default")


@pytest.mark.parametrize(
    ("url", "debug", "warned"),
    [
        ("http://in.example", False, True),
        ("http://in.example", True, False),
        ("https://in.example", False, False),
        ("http://127.0.0.1:8765", False, False),
        ("http://localhost:8765", False, False),
    ],
)
def test_a_stream_base_url_that_is_not_https_outside_debug(
    cdp_config, settings, url, debug, warned
):
    settings.DEBUG = debug
    messages = messages_by_id(
        cdp_config, {"system": {"default": {"cdp": {"stream_base_url": url}}}}
    )
    assert ("cdp_bridge.W002" in messages) is warned


def test_the_https_check_is_a_deployment_check(cdp_config, db):
    cdp_config({"system": {"default": {"cdp": {"stream_base_url": "http://in.example"}}}})
    assert "cdp_bridge.W002" not in check_output("check")
    deploy = check_output("check", "--deploy")
    assert "cdp_bridge.W002" in deploy
    assert "cdp_bridge.W002" in check_output("check", "--deploy", "--tag", "security")


def test_manage_py_check_fails_on_a_broken_configuration(cdp_config, db):
    cdp_config({"system": {"default": {"cdp": {"account_number": "twelve"}}}})
    with pytest.raises(SystemCheckError, match=r"cdp_bridge\.E003"):
        call_command("check")


def test_checks_name_keys_as_written_in_a_yaml_file(settings, tmp_path, db):
    path = tmp_path / "ibexa_cdp.yaml"
    path.write_text(
        "ibexa:\n  system:\n    default:\n      cdp:\n        activations:\n"
        f"          - {{client_id: raptor, client_secret: {GOOD_SECRET},"
        " segment_group_identifier: missing_group}\n"
        "cdp_bridge:\n  sources:\n    content:\n      article: {model: testapp.Article,"
        " name_field: headline}\n"
    )
    settings.CDP_BRIDGE = load_yaml(path)
    messages = {message.id: message for message in every_check()}
    assert messages["cdp_bridge.W001"].obj == (
        "ibexa.system.default.cdp.activations[0].segment_group_identifier"
    )
    assert messages["cdp_bridge.E011"].obj == "cdp_bridge.sources.content.article.name_field"


def schedule_with(options, sources=None):
    return {
        "data_export": {
            "schedule": {"content": [{"interval": "*/30 * * * *", "options": options}]}
        },
        "sources": sources or {"content": {"article": {"model": "testapp.Article"}}},
    }


@pytest.mark.parametrize(
    "options",
    ["--no-draft --content-type=blog_post", "--content-type blog_post", "--content=blog_post"],
)
def test_a_schedule_entry_naming_a_source_that_does_not_exist(cdp_config, db, options):
    message = messages_by_id(cdp_config, schedule_with(options))["cdp_bridge.E035"]
    assert message.is_serious()
    assert message.obj == "data_export.schedule.content[0].options"
    assert message.msg == (
        "schedule entry content[0] exports --content-type 'blog_post', but no content source "
        "has that name; the content sources are: article."
    )
    assert "sources.content.blog_post" in message.hint


def test_a_schedule_entry_naming_a_configured_source_passes(cdp_config, db):
    messages = messages_by_id(cdp_config, schedule_with("--no-draft --content-type=article"))
    assert "cdp_bridge.E035" not in messages
    assert "cdp_bridge.E019" not in messages


@pytest.mark.parametrize(
    "options",
    [
        "--no-draft --since last --content-type=article",
        "--no-draft --resume --scope default --content-type=article",
        "--stream-id=0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d --content-type=article",
        "--content-type=blog_post",  # E035
        "--scope=nowhere",  # E019
        "--draft --no-draft -v 2",  # E019
    ],
)
def test_the_schedule_checks_read_no_database(cdp_config, options):
    """No ``db`` fixture: pytest-django fails the test on any query. A check without
    ``--database`` must work before the database exists (a build step, a fresh checkout)."""
    cdp_config(schedule_with(options))
    ids = {message.id for message in check_settings()}
    assert ids <= {"cdp_bridge.E019", "cdp_bridge.E035"}
    output = io.StringIO()
    with pytest.raises(SystemCheckError) if ids else contextlib.nullcontext():
        call_command("check", stdout=output, stderr=output)


def test_manage_py_check_fails_where_the_cron_run_would(cdp_config, db):
    cdp_config(schedule_with("--content-type=blog_post"))
    with pytest.raises(SystemCheckError, match=r"cdp_bridge\.E035"):
        call_command("check")


def test_a_membership_api_without_a_base_url_is_a_warning_check(cdp_config, db):
    membership = {"activation_id": "a-1", "api_key": "k-1"}
    message = messages_by_id(
        cdp_config, {"system": {"default": {"cdp": {"membership": membership}}}}
    )["cdp_bridge.W005"]
    assert not message.is_serious()
    assert message.obj == "system.default.cdp.membership.base_url"


def test_every_check_id_is_documented_with_an_anchor():
    root = Path(__file__).resolve().parent.parent
    used = set()
    for path in (root / "cdp_bridge").rglob("*.py"):
        used |= set(re.findall(r"cdp_bridge\.[EW]\d{3}", path.read_text()))
    docs = (root / "docs" / "configuration.md").read_text()
    undocumented = sorted(
        check_id
        for check_id in used
        if f'<a id="{check_id.replace(".", "").lower()}"></a>`{check_id}`' not in docs
    )
    assert len(used) > 30
    assert undocumented == []
