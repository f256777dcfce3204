"""The YAML form: Ibexa's ibexa_cdp.yaml verbatim, %env()% placeholders, clear file errors."""

import textwrap

import pytest

from cdp_bridge import conf
from cdp_bridge.exceptions import ConfigurationError

from .conftest import GOOD_SECRET

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
