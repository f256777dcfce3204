"""The YAML form: Ibexa's ibexa_cdp.yaml verbatim, %env()% placeholders, clear file errors."""

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from werkzeug import Response

from cdp_bridge import conf
from cdp_bridge.checks import check_settings
from cdp_bridge.conf.document import deep_merge
from cdp_bridge.exceptions import ConfigurationError
from cdp_bridge.export.runner import run_export
from cdp_bridge.management.stream_data import parse_options
from cdp_bridge.models import SegmentGroup

from .conftest import GOOD_SECRET
from .testapp.models import Article, Product

IBEXA_FILE = """\
ibexa:
    system:
        default:
            cdp:
                account_number: 123456
                data_export:
                    user_data:
                        transport: stream_file
                        stream_file:
                            stream_id: 00000000-00000000-00000000-00000000
                activations:
                    -   client_id: '%env(CDP_ACTIVATION_CLIENT_ID)%'
                        client_secret: '%env(CDP_ACTIVATION_CLIENT_SECRET)%'
                        segment_group_identifier: example_segment_group_identifier
ibexa_cdp:
    bulk_async_threshold: 100
    data_export:
        schedule:
            user:
                -   interval: '*/15 * * * *'
                    options: '--no-draft'
"""


@pytest.fixture
def yaml_config(settings, tmp_path):
    def configure(text, name="ibexa_cdp.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        settings.CDP_BRIDGE = conf.load_yaml(path)
        return conf.inspect_settings()

    yield configure
    conf.reload()


@pytest.fixture
def activation_env(monkeypatch):
    monkeypatch.setenv("CDP_ACTIVATION_CLIENT_ID", "raptor-client")
    monkeypatch.setenv("CDP_ACTIVATION_CLIENT_SECRET", GOOD_SECRET)


def test_the_ibexa_file_is_accepted_verbatim(yaml_config, activation_env):
    report = yaml_config(IBEXA_FILE)
    assert report.problems == ()
    scope = conf.get_scope()
    assert scope.account_number == 123456
    assert scope.stream("user").stream_id == "00000000-00000000-00000000-00000000"
    (activation,) = scope.activations
    assert activation.client_id == "raptor-client"
    assert activation.client_secrets == (GOOD_SECRET,)
    assert activation.segment_group_identifier == "example_segment_group_identifier"
    (entry,) = conf.cdp_settings().schedule
    assert (entry.kind, entry.interval, entry.options) == ("user", "*/15 * * * *", "--no-draft")


def test_loading_is_lazy_a_missing_file_is_only_an_error_when_used(settings, tmp_path):
    settings.CDP_BRIDGE = conf.load_yaml(tmp_path / "missing.yaml")  # no error yet
    report = conf.inspect_settings()
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E013"
    assert "cannot be read" in problem.message
    with pytest.raises(ConfigurationError, match=r"missing\.yaml"):
        conf.get_scope()
    conf.reload()


def test_the_config_file_setting_is_an_alternative_to_load_yaml(settings, tmp_path, activation_env):
    path = tmp_path / "cdp.yaml"
    path.write_text(IBEXA_FILE)
    settings.CDP_BRIDGE = None
    settings.CDP_BRIDGE_CONFIG_FILE = str(path)
    assert conf.get_scope().account_number == 123456
    conf.reload()


def test_a_missing_environment_variable_names_the_variable_and_the_key(yaml_config, monkeypatch):
    monkeypatch.setenv("CDP_ACTIVATION_CLIENT_ID", "raptor-client")
    monkeypatch.delenv("CDP_ACTIVATION_CLIENT_SECRET", raising=False)
    report = yaml_config(IBEXA_FILE)
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E012"
    assert problem.path == "ibexa.system.default.cdp.activations[0].client_secret"
    assert "CDP_ACTIVATION_CLIENT_SECRET is not set" in problem.message


def test_typed_placeholders_are_cast(yaml_config, monkeypatch):
    monkeypatch.setenv("CDP_ACCOUNT", "4321")
    monkeypatch.setenv("CDP_TRACKING", "false")
    monkeypatch.setenv("CDP_HOST", "in.example")
    yaml_config("""\
        ibexa:
          system:
            default:
              cdp:
                account_number: '%env(int:CDP_ACCOUNT)%'
                stream_base_url: 'https://%env(CDP_HOST)%/'
                tracking: {enabled: '%env(bool:CDP_TRACKING)%'}
        """)
    scope = conf.get_scope()
    assert scope.account_number == 4321
    assert scope.stream_base_url == "https://in.example/"
    assert scope.tracking.enabled is False


def test_a_placeholder_of_the_wrong_type_is_reported(yaml_config, monkeypatch):
    monkeypatch.setenv("CDP_BATCH", "lots")
    report = yaml_config("""\
        ibexa:
          system:
            default:
              cdp:
                data_export: {user_data: {batch_size: '%env(int:CDP_BATCH)%'}}
        """)
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E031"
    assert problem.path == "ibexa.system.default.cdp.data_export.user_data.batch_size"
    assert "CDP_BATCH does not hold a whole number" in problem.message


def test_malformed_yaml_names_the_file_line_and_column(yaml_config):
    report = yaml_config("ibexa:\n  system: [unclosed\n", name="broken.yaml")
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E013"
    assert "broken.yaml" in problem.path
    assert "malformed YAML at line 3, column 1" in problem.message


def test_errors_name_keys_as_they_are_written_in_the_yaml(yaml_config):
    report = yaml_config("""\
        ibexa_cdp:
          bulk_async_threshold: 0
        cdp_bridge:
          sources:
            content:
              article: {model: testapp.Article, nme_field: title}
        """)
    paths = {problem.path for problem in report.problems}
    assert paths == {
        "ibexa_cdp.bulk_async_threshold",
        "cdp_bridge.sources.content.article.nme_field",
    }


def test_an_unknown_top_level_key_in_an_ibexa_file_is_reported(yaml_config):
    report = yaml_config("ibexa_cdp: {}\nibexa_cpd: {}\n")
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E013"
    assert "'ibexa_cpd'" in problem.message


def test_a_yaml_file_without_ibexa_keys_is_the_native_form(yaml_config):
    yaml_config("""\
        scopes:
          shop: {hosts: [shop.example]}
        system:
          shop: {cdp: {account_number: 7777}}
        """)
    assert conf.get_scope("shop").account_number == 7777


def test_the_yaml_file_reads_like_a_mapping(settings, tmp_path, activation_env):
    path = tmp_path / "cdp.yaml"
    path.write_text(IBEXA_FILE)
    config_file = conf.load_yaml(path)
    assert set(config_file) == {"system", "bulk_async_threshold", "data_export"}
    assert config_file["bulk_async_threshold"] == 100


# -- strict placeholders, through the configuration ------------------------------------------------


@pytest.mark.parametrize(
    ("placeholder", "environment", "check_id"),
    [
        ("'%env(bool:CDP_REQUIRE_SIGNATURE)%'", {"CDP_REQUIRE_SIGNATURE": "ture"}, "E031"),
        ("'%env(rot13:CDP_REQUIRE_SIGNATURE)%'", {"CDP_REQUIRE_SIGNATURE": "true"}, "E030"),
        ("'%env(default:fallback:CDP_REQUIRE_SIGNATURE)%'", {}, "E033"),
        ("'%env(bool:CDP_REQUIRE_SIGNATURE'", {"CDP_REQUIRE_SIGNATURE": "true"}, "E032"),
    ],
)
def test_a_placeholder_that_cannot_be_read_is_an_error_never_a_value(
    yaml_config, activation_env, monkeypatch, placeholder, environment, check_id
):
    monkeypatch.delenv("CDP_REQUIRE_SIGNATURE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    report = yaml_config(
        IBEXA_FILE.replace(
            "segment_group_identifier: example_segment_group_identifier",
            "segment_group_identifier: example_segment_group_identifier\n"
            f"                        require_signature: {placeholder}\n"
            f"                        signing_secret: {GOOD_SECRET}",
        )
    )
    (problem,) = report.problems
    assert problem.check_id == f"cdp_bridge.{check_id}"
    assert problem.path == "ibexa.system.default.cdp.activations[0].require_signature"
    assert "CDP_REQUIRE_SIGNATURE" in problem.message
    assert report.settings.scope("default").activations == ()  # never signature-less by default
    with pytest.raises(ConfigurationError, match=r"activations\[0\]\.require_signature"):
        conf.get_scope()


def test_an_unterminated_placeholder_never_becomes_a_client_secret(yaml_config, activation_env):
    report = yaml_config(
        IBEXA_FILE.replace(
            "'%env(CDP_ACTIVATION_CLIENT_SECRET)%'", "'%env(CDP_ACTIVATION_CLIENT_SECRET'"
        )
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E032",
        "ibexa.system.default.cdp.activations[0].client_secret",
    )
    assert report.settings.scope("default").activations == ()


# -- each key in its section ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "section"),
    [
        ("ibexa_cdp:\n  sources: {}\n", "ibexa_cdp.sources", "cdp_bridge"),
        ("ibexa:\n  scopes: {}\n", "ibexa.scopes", "cdp_bridge"),
        ("cdp_bridge:\n  system: {}\n", "cdp_bridge.system", "ibexa"),
        (
            "cdp_bridge:\n  bulk_async_threshold: 5\n",
            "cdp_bridge.bulk_async_threshold",
            "ibexa_cdp",
        ),
    ],
)
def test_a_key_under_the_wrong_section_is_reported_with_its_section(
    yaml_config, text, path, section
):
    (problem,) = yaml_config(text).problems
    assert (problem.check_id, problem.path) == ("cdp_bridge.E001", path)
    assert problem.hint == f"Move it under {section}:."


def test_an_unknown_key_in_a_section_suggests_the_key_that_was_meant(yaml_config):
    (problem,) = yaml_config("ibexa_cdp:\n  bulk_async_treshold: 5\n").problems
    assert problem.path == "ibexa_cdp.bulk_async_treshold"
    assert problem.hint == "Did you mean 'bulk_async_threshold'?"


def test_a_key_in_two_sections_is_a_file_error(yaml_config):
    (problem,) = yaml_config("ibexa_cdp:\n  webhook: {}\ncdp_bridge:\n  webhook: {}\n").problems
    assert problem.check_id == "cdp_bridge.E013"
    assert "'webhook' is both under ibexa_cdp and under cdp_bridge" in problem.message


# -- Ibexa's own documentation examples ------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "ibexa"
# What a site adds to Ibexa's examples: the sources Ibexa's content and product types become,
# and (for the tests) a Streaming API on loopback.
SOURCES = {
    "content": {"article": {"model": "testapp.Article", "name_field": "title"}},
    "product": {
        "computer": {
            "model": "testapp.Product",
            "code_field": "sku",
            "name_field": "name",
            "filter": {"product_type": "computer"},
        }
    },
}
ENVIRONMENT = {
    "CDP_ACTIVATION_CLIENT_ID": "raptor-client",
    "CDP_ACTIVATION_CLIENT_SECRET": GOOD_SECRET,
    "CDP_MEMBERSHIP_ACTIVATION_ID": "activation-1",
    "CDP_MEMBERSHIP_API_KEY": "api-key-1",
    "RAPTOR_RECOMMENDATIONS_API_KEY": "reco-key-1",
}
# The warnings each example gets, and why: what cannot work as written.
EXPECTED_WARNINGS = {
    "activation.yaml": set(),
    "bulk_async_threshold.yaml": set(),
    "connector_raptor.yaml": set(),
    # Ibexa has the membership API's address built in; cdp_bridge asks for it.
    "data_export.yaml": {("cdp_bridge.W005", "ibexa.system.default.cdp.membership.base_url")},
    "global_configuration.yaml": set(),
    "ibexa_4x.yaml": {
        ("cdp_bridge.W003", "ibexa.system.default.cdp.user_data_streaming"),
        ("cdp_bridge.W004", "ibexa.system.default.cdp.activations"),
    },
}


@pytest.fixture
def ibexa_example(yaml_config, monkeypatch):
    """Configure one of Ibexa's examples, with ``extra`` deep-merged into it."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)

    def configure(name, extra=None):
        document = yaml.safe_load((FIXTURES / name).read_text())
        return yaml_config(yaml.safe_dump(deep_merge(document, extra or {})), name=name)

    return configure


@pytest.fixture
def streaming_api(httpserver):
    """A Streaming API on loopback: records each batch's headers and rows, accepts them all."""
    received = []

    def accept(request):
        received.append((dict(request.headers), json.loads(request.get_data())))
        return Response("{}", 200, content_type="application/json")

    httpserver.expect_request("/stream/123456", method="POST").respond_with_handler(accept)
    return received


def site_additions(httpserver, *, account=True):
    cdp = {"stream_base_url": httpserver.url_for("/").rstrip("/")}
    if account:
        cdp["account_number"] = 123456
    return {"ibexa": {"system": {"default": {"cdp": cdp}}}, "cdp_bridge": {"sources": SOURCES}}


def test_every_example_is_a_fixture():
    assert sorted(path.name for path in FIXTURES.glob("*.yaml")) == sorted(EXPECTED_WARNINGS)


@pytest.mark.parametrize("name", sorted(EXPECTED_WARNINGS))
def test_each_ibexa_example_loads_as_it_is(ibexa_example, name):
    report = ibexa_example(name)
    assert report.errors == ()
    assert {(p.check_id, p.path) for p in report.problems} == EXPECTED_WARNINGS[name]
    conf.cdp_settings()  # usable


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED_WARNINGS))
def test_manage_py_check_is_clean_once_the_sources_exist(ibexa_example, httpserver, name):
    SegmentGroup.objects.create(identifier="example_segment_group_identifier", name="CDP")
    ibexa_example(name, site_additions(httpserver))
    found = {(message.id, message.obj) for message in check_settings()}
    assert found == EXPECTED_WARNINGS[name]


@pytest.mark.django_db
def test_without_the_sources_the_global_configuration_fails_the_check_not_the_cron_run(
    ibexa_example,
):
    ibexa_example("global_configuration.yaml")
    failed = {message.obj: message for message in check_settings() if message.is_serious()}
    assert set(failed) == {
        f"ibexa_cdp.data_export.schedule.{kind}[{index}].options"
        for kind in ("content", "product")
        for index in (0, 1)
    }
    assert {message.id for message in failed.values()} == {"cdp_bridge.E035"}


@pytest.mark.django_db
def test_each_entry_of_the_global_configuration_exports_to_its_stream(
    ibexa_example, httpserver, streaming_api
):
    User.objects.create(username="ada", email="ada@example.com")
    Article.objects.create(title="Hello")
    Product.objects.create(sku="pc-1", name="Desktop", product_type="computer", price=999)
    Product.objects.create(sku="tv-1", name="Television", product_type="tv", price=499)
    ibexa_example("global_configuration.yaml", site_additions(httpserver))
    entries = conf.cdp_settings().schedule
    assert len(entries) == 6
    for entry in entries:
        run_export(parse_options(entry.kind, entry.options, scope=entry.scope))
    assert len(streaming_api) == 6
    for (headers, rows), entry in zip(streaming_api, entries, strict=True):
        assert headers["X-Streamid"] == "00000000-00000000-00000000-00000000"
        assert "X-Isdraft" not in headers  # --no-draft
        identifiers = [row.get("login") or row.get("code") or row.get("name") for row in rows]
        assert (
            identifiers == {"user": ["ada"], "content": ["Hello"], "product": ["pc-1"]}[entry.kind]
        )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["activation.yaml", "data_export.yaml", "ibexa_4x.yaml"])
def test_the_activation_examples_stream_users_as_draft_then_in_full(
    ibexa_example, httpserver, streaming_api, name
):
    User.objects.create(username="ada")
    ibexa_example(name, site_additions(httpserver, account=False))
    run_export(parse_options("user", "--draft"))
    run_export(parse_options("user", "--no-draft"))
    (draft_headers, draft_rows), (full_headers, full_rows) = streaming_api
    assert draft_headers["X-Isdraft"] == "true"
    assert "X-Isdraft" not in full_headers
    assert [row["login"] for row in draft_rows] == [row["login"] for row in full_rows] == ["ada"]


@pytest.mark.django_db
def test_the_connector_example_sets_the_account_and_server_side_tracking(ibexa_example, httpserver):
    ibexa_example("connector_raptor.yaml")
    scope = conf.get_scope()
    assert (scope.account_number, scope.tracking.tracking_type) == (123456, "server")


def test_yamls_own_forms_of_null_nan_and_quoted_numbers_are_read_as_ibexa_means_them(
    yaml_config, activation_env
):
    report = yaml_config("""\
        ibexa:
            system:
                default:
                    cdp:
                        account_number: 123456
                        data_export:
                            user_data:
                                batch_size: '500'
                                stream_file: {stream_id: ~, read_timeout: .nan}
                        activations: ~
                        membership: {activation_id: ~, api_key: ~}
        ibexa_cdp:
            data_export: {schedule: ~}
        """)
    problems = {(problem.check_id, problem.path) for problem in report.problems}
    assert problems == {
        ("cdp_bridge.E002", "ibexa.system.default.cdp.data_export.user_data.batch_size"),
        (
            "cdp_bridge.E037",
            "ibexa.system.default.cdp.data_export.user_data.stream_file.read_timeout",
        ),
    }


def test_a_container_parameter_never_becomes_a_client_secret(yaml_config, activation_env):
    report = yaml_config("""\
        ibexa:
            system:
                default:
                    cdp:
                        activations:
                            -   client_id: '%env(CDP_ACTIVATION_CLIENT_ID)%'
                                client_secret: '%app.cdp.secret%'
                                segment_group_identifier: example_segment_group_identifier
        """)
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E039",
        "ibexa.system.default.cdp.activations[0].client_secret",
    )
    assert "'app.cdp.secret'" in problem.message
    assert "%env(APP_CDP_SECRET)%" in problem.hint
    with pytest.raises(ConfigurationError):
        conf.get_scope()


def test_the_project_directory_and_percent_signs_read_as_in_symfony(
    yaml_config, settings, tmp_path
):
    settings.BASE_DIR = tmp_path
    yaml_config("""\
        ibexa:
            system:
                default:
                    cdp:
                        data_export:
                            user_data:
                                transport: file
                                file: {directory: '%kernel.project_dir%/var/cdp'}
                        membership: {api_key: 'key-100%%'}
        """)
    scope = conf.get_scope()
    assert scope.stream("user").directory == tmp_path / "var" / "cdp"
    assert scope.membership.api_key == "key-100%"


def test_a_file_under_the_home_directory_is_found(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "cdp.yaml").write_text("bulk_async_threshold: 7\n")
    settings.CDP_BRIDGE = conf.load_yaml("~/cdp.yaml")
    assert conf.cdp_settings().bulk_async_threshold == 7
