"""The published JSON Schema: generated from the settings classes, and true to the YAML file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.utils import translation

from cdp_bridge.conf.json_schema import json_schema, json_schema_text, main

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "cdp_bridge.schema.json"
FIXTURES = ROOT / "tests" / "fixtures" / "ibexa"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, text):
    return sorted(
        ".".join(str(part) for part in error.absolute_path)
        for error in validator.iter_errors(yaml.safe_load(text))
    )


def test_the_committed_schema_is_the_generated_one():
    assert COMMITTED.read_text() == json_schema_text(), (
        "Regenerate it: python -m cdp_bridge.conf.json_schema docs/cdp_bridge.schema.json"
    )


def test_the_command_writes_the_schema(tmp_path, capsys):
    assert main([str(tmp_path / "schema.json")]) == 0
    assert json.loads((tmp_path / "schema.json").read_text()) == json_schema()
    assert "Wrote the configuration's JSON Schema" in capsys.readouterr().out


def test_the_documented_command_runs_outside_a_project(tmp_path):
    """Contributors regenerate the file with no Django settings at all."""
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    written = tmp_path / "schema.json"
    subprocess.run(
        [sys.executable, "-m", "cdp_bridge.conf.json_schema", str(written)],
        check=True,
        cwd=ROOT,
        env=environment,
        capture_output=True,
    )
    assert written.read_text() == COMMITTED.read_text()


def test_the_schema_is_english_whatever_the_active_language():
    with translation.override("de"):
        assert json_schema_text() == COMMITTED.read_text()


def test_the_example_projects_file_validates(validator):
    assert errors(validator, (ROOT / "example_project" / "config" / "cdp.yaml").read_text()) == []


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("*.yaml")))
def test_ibexas_own_examples_validate(validator, name):
    assert errors(validator, (FIXTURES / name).read_text()) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("ibexa: {system: {default: {cdp: {acount_number: 1}}}}", "ibexa.system.default.cdp"),
        (
            "ibexa: {system: {default: {cdp: {account_number: twelve}}}}",
            "ibexa.system.default.cdp.account_number",
        ),
        (
            "ibexa: {system: {default: {cdp: {data_export: "
            "{user_data: {stream_file: {stream_id: abc}}}}}}}",
            "ibexa.system.default.cdp.data_export.user_data.stream_file.stream_id",
        ),
        (
            "ibexa: {system: {default: {cdp: {tracking: {user_id: email}}}}}",
            "ibexa.system.default.cdp.tracking.user_id",
        ),
        (
            "ibexa: {system: {default: {cdp: {activations: [{client_id: x}]}}}}",
            "ibexa.system.default.cdp.activations",
        ),
        ("ibexa_cdp: {bulk_async_threshold: 0}", "ibexa_cdp.bulk_async_threshold"),
        ("ibexa_cdp: {sources: {}}", "ibexa_cdp"),
        (
            "cdp_bridge: {sources: {user: {user: {code_field: sku, model: auth.User}}}}",
            "cdp_bridge.sources.user.user",
        ),
        (
            "cdp_bridge: {sources: {content: {article: {name_field: title}}}}",
            "cdp_bridge.sources.content.article",
        ),
        ("cdp_bridge: {webhook: {queue: rq}}", "cdp_bridge.webhook.queue"),
        ("ibexa_cpd: {}", ""),
    ],
)
def test_an_editor_flags_what_manage_py_check_refuses(validator, text, where):
    assert where in errors(validator, text)


def test_placeholders_are_accepted_wherever_a_value_is(validator):
    text = """
        ibexa:
            system:
                default:
                    cdp:
                        account_number: '%env(int:CDP_ACCOUNT)%'
                        tracking: {enabled: '%env(bool:CDP_TRACKING)%', user_id: '%env(CDP_MODE)%'}
                        data_export: {user_data: {stream_file: {stream_id: '%env(CDP_STREAM)%'}}}
    """
    assert errors(validator, text) == []


def test_a_processor_may_be_its_dotted_path_alone(validator):
    text = "cdp_bridge: {processors: {field_value: [shop.cdp.Price, {path: shop.cdp.Size}]}}"
    assert errors(validator, text) == []
    assert errors(validator, "cdp_bridge: {processors: {field_value: [5]}}") != []


def test_the_schema_describes_each_key_with_its_default(validator):
    stream = json_schema()["definitions"]["StreamSettings"]["properties"]
    assert stream["batch_size"]["default"] == 1000
    assert stream["batch_size"]["description"] == "Rows per request at most."
    assert stream["stream_file"]["properties"]["read_timeout"]["default"] == 30.0


@pytest.mark.parametrize(
    "batch_size", ["'30'", "'%env(CDP_BATCH)%'", "'%env(bool:CDP_BATCH)%'", ".nan"]
)
def test_an_editor_flags_a_number_written_as_text(validator, batch_size):
    user_data = f"{{user_data: {{batch_size: {batch_size}}}}}"
    text = f"ibexa: {{system: {{default: {{cdp: {{data_export: {user_data}}}}}}}}}"
    assert "ibexa.system.default.cdp.data_export.user_data.batch_size" in errors(validator, text)


def test_numbers_and_booleans_from_the_environment_need_their_processor(validator):
    text = """
        ibexa:
            system:
                default:
                    cdp:
                        tracking: {enabled: '%env(CDP_TRACKING)%'}
                        data_export:
                            user_data:
                                batch_size: '%env(int:CDP_BATCH)%'
                                stream_file: {read_timeout: '%env(float:CDP_TIMEOUT)%'}
    """
    assert errors(validator, text) == ["ibexa.system.default.cdp.tracking.enabled"]


def test_null_is_accepted_where_a_key_has_a_default_not_where_it_is_required(validator):
    text = """
        ibexa:
            system:
                default:
                    cdp:
                        account_number: ~
                        tracking: ~
                        data_export: {user_data: {batch_size: ~, stream_file: {stream_id: ~}}}
                        activations: [{client_id: ~, client_secret: ~, segment_group_identifier: g}]
        ibexa_cdp: {bulk_async_threshold: ~, data_export: {schedule: ~}}
    """
    assert errors(validator, text) == [
        "ibexa.system.default.cdp.activations",  # client_id and client_secret are required
    ]
