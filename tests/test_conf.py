"""The CDP_BRIDGE setting: scopes, merge order, typed values, key paths in every error."""

import pytest
from django.test import RequestFactory, override_settings

from cdp_bridge import conf
from cdp_bridge.exceptions import ConfigurationError, UnknownScope

from .conftest import GOOD_SECRET, OTHER_SECRET, STREAM_ID, problems_by_id

ACTIVATION = {
    "client_id": "raptor",
    "client_secret": GOOD_SECRET,
    "segment_group_identifier": "cdp_audiences",
}


def test_empty_configuration_has_a_default_scope_and_exports_the_user_model(cdp_config):
    report = cdp_config({})
    assert report.problems == ()
    config = conf.cdp_settings()
    assert list(config.scopes) == ["default"]
    scope = conf.get_scope()
    assert scope.account_number is None
    assert scope.stream_base_url == "https://in.raptorsmartadvisor.com"
    assert scope.stream("user").batch_size == 1000
    assert scope.stream("user").max_batch_bytes == 4 * 1024 * 1024
    assert config.sources_of("user")["user"].model == "auth.User"
    assert config.bulk_async_threshold == 100
    assert config.webhook.max_body_bytes == 32 * 1024 * 1024
    assert config.webhook.queue == "command"


def test_scope_settings_merge_default_then_groups_then_scope_then_global(cdp_config):
    cdp_config(
        {
            "scopes": {"shop_de": {"hosts": ["de.shop.example"], "groups": ["europe"]}},
            "system": {
                "default": {
                    "cdp": {
                        "account_number": 1111,
                        "tracking": {"consent_required": False, "user_id": "hashed"},
                        "data_export": {
                            "user_data": {
                                "batch_size": 500,
                                "stream_file": {"stream_id": STREAM_ID},
                            }
                        },
                    }
                },
                "europe": {
                    "cdp": {
                        "account_number": 2222,
                        "data_export": {"user_data": {"max_batch_bytes": 2048}},
                    }
                },
                "shop_de": {"cdp": {"tracking": {"user_id": "none"}}},
                "global": {"cdp": {"stream_base_url": "https://in.example"}},
            },
        }
    )
    shop_de = conf.get_scope("shop_de")
    assert shop_de.account_number == 2222  # the group overrides default
    assert shop_de.tracking.user_id == "none"  # the scope overrides default
    assert shop_de.tracking.consent_required is False  # dicts merge key by key
    stream = shop_de.stream("user")
    assert (stream.batch_size, stream.max_batch_bytes, stream.stream_id) == (500, 2048, STREAM_ID)
    assert shop_de.stream_base_url == "https://in.example"  # global overrides everything
    default = conf.get_scope("default")
    assert default.account_number == 1111
    assert default.stream_base_url == "https://in.example"


def test_lists_replace_instead_of_merging(cdp_config):
    other = {**ACTIVATION, "client_id": "other", "client_secret": OTHER_SECRET}
    cdp_config(
        {
            "scopes": {"shop": {}},
            "system": {
                "default": {"cdp": {"activations": [ACTIVATION]}},
                "shop": {"cdp": {"activations": [other]}},
            },
        }
    )
    assert [a.client_id for a in conf.get_scope("shop").activations] == ["other"]
    assert [a.client_id for a in conf.get_scope("default").activations] == ["raptor"]


def test_system_names_that_are_not_declared_become_scopes_like_ibexa_siteaccesses(cdp_config):
    cdp_config({"system": {"site": {"cdp": {"account_number": 4242}}}})
    assert conf.get_scope("site").account_number == 4242


def test_unknown_scope_lists_the_known_ones(cdp_config):
    cdp_config({"scopes": {"shop": {}}})
    with pytest.raises(UnknownScope, match=r"Unknown scope 'nope'.*default, shop"):
        conf.get_scope("nope")


def test_activation_is_typed_and_accepts_a_list_of_secrets_for_rotation(cdp_config):
    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "activations": [
                            {
                                **ACTIVATION,
                                "client_secret": [GOOD_SECRET, OTHER_SECRET],
                                "person_identifier_field": "username",
                            },
                        ]
                    }
                }
            }
        }
    )
    (activation,) = conf.get_scope().activations
    assert activation.client_secrets == (GOOD_SECRET, OTHER_SECRET)
    assert activation.person_identifier_field == "username"
    assert activation.require_signature is False
    assert conf.find_activation("raptor") == (conf.get_scope(), activation)
    assert conf.find_activation("unknown") is None


@pytest.mark.parametrize(
    ("host", "scope"),
    [
        ("de.shop.example", "shop_de"),
        ("DE.SHOP.EXAMPLE:8443", "shop_de"),
        ("www.shop.example", "shop_en"),
        ("fr.shop.example", "shop_fr"),  # a leading dot matches any subdomain
        ("elsewhere.example", "default"),
    ],
)
def test_a_request_belongs_to_the_scope_of_its_host(cdp_config, host, scope):
    cdp_config(
        {
            "scopes": {
                "shop_de": {"hosts": ["de.shop.example"]},
                "shop_fr": {"hosts": [".shop.example"]},
                "shop_en": {"hosts": ["shop.example", "www.shop.example"]},
            }
        }
    )
    request = RequestFactory().get("/", HTTP_HOST=host)
    assert conf.scope_for_request(request).name == scope


def test_configuration_is_read_live_through_override_settings(cdp_config):
    cdp_config({"system": {"default": {"cdp": {"account_number": 1000}}}})
    assert conf.get_scope().account_number == 1000
    with override_settings(CDP_BRIDGE={"system": {"default": {"cdp": {"account_number": 2000}}}}):
        assert conf.get_scope().account_number == 2000
    assert conf.get_scope().account_number == 1000


def test_settings_objects_are_frozen(cdp_config):
    cdp_config({})
    scope = conf.get_scope()
    with pytest.raises(AttributeError):
        scope.account_number = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        scope.data_export["user"] = None  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "check_id", "path"),
    [
        (
            {"system": {"default": {"cdp": {"acount_number": 1}}}},
            "cdp_bridge.E001",
            "system.default.cdp.acount_number",
        ),
        ({"sytem": {}}, "cdp_bridge.E001", "sytem"),
        (
            {"system": {"default": {"cdp": {"account_number": "12ab"}}}},
            "cdp_bridge.E003",
            "system.default.cdp.account_number",
        ),
        (
            {
                "system": {
                    "default": {
                        "cdp": {
                            "data_export": {
                                "user_data": {"stream_file": {"stream_id": "not-a-stream"}}
                            }
                        }
                    }
                }
            },
            "cdp_bridge.E004",
            "system.default.cdp.data_export.user_data.stream_file.stream_id",
        ),
        (
            {"data_export": {"schedule": {"user": [{"interval": "* * *"}]}}},
            "cdp_bridge.E005",
            "data_export.schedule.user[0].interval",
        ),
        (
            {"data_export": {"schedule": {"user": [{"interval": "61 * * * *"}]}}},
            "cdp_bridge.E005",
            "data_export.schedule.user[0].interval",
        ),
        (
            {"data_export": {"schedule": {"content": [{"interval": "0 0 31 2 *"}]}}},
            "cdp_bridge.E006",
            "data_export.schedule.content[0].interval",
        ),
        (
            {
                "system": {
                    "default": {"cdp": {"activations": [{**ACTIVATION, "client_secret": "short"}]}}
                }
            },
            "cdp_bridge.E008",
            "system.default.cdp.activations[0].client_secret",
        ),
        (
            {
                "system": {
                    "default": {"cdp": {"activations": [{**ACTIVATION, "client_secret": "abcdef"}]}}
                }
            },
            "cdp_bridge.E009",
            "system.default.cdp.activations[0].client_secret",
        ),
        (
            {
                "system": {
                    "default": {
                        "cdp": {
                            "activations": [
                                {**ACTIVATION, "client_secret": [GOOD_SECRET, "123456"]}
                            ]
                        }
                    }
                }
            },
            "cdp_bridge.E009",
            "system.default.cdp.activations[0].client_secret[1]",
        ),
        (
            {"system": {"default": {"cdp": {"activations": [ACTIVATION, ACTIVATION]}}}},
            "cdp_bridge.E007",
            "system.default.cdp.activations[1].client_id",
        ),
        (
            {"data_export": {"schedule": {"user": [{"interval": "* * * * *", "scope": "nope"}]}}},
            "cdp_bridge.E014",
            "data_export.schedule.user[0].scope",
        ),
        (
            {"system": {"default": {"cdp": {"activations": [{"client_id": "x"}]}}}},
            "cdp_bridge.E002",
            "system.default.cdp.activations[0].client_secret",
        ),
        (
            {
                "system": {
                    "default": {"cdp": {"activations": [{**ACTIVATION, "require_signature": True}]}}
                }
            },
            "cdp_bridge.E002",
            "system.default.cdp.activations[0].signing_secret",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"transport": "ftp"}}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.data_export.user_data.transport",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"transport": "file"}}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.data_export.user_data.file.directory",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"batch_size": 0}}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.data_export.user_data.batch_size",
        ),
        (
            {"system": {"default": {"cdp": {"tracking": {"user_id": "email"}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.tracking.user_id",
        ),
        (
            {"sources": {"content": {"article": {"name_field": "title"}}}},
            "cdp_bridge.E002",
            "sources.content.article",
        ),
        (
            {"sources": {"content": {"article": {"model": "Article"}}}},
            "cdp_bridge.E002",
            "sources.content.article.model",
        ),
        (
            {"sources": {"user": {"user": {"model": "auth.User", "code_field": "x"}}}},
            "cdp_bridge.E001",
            "sources.user.user.code_field",
        ),
        ({"bulk_async_threshold": "many"}, "cdp_bridge.E002", "bulk_async_threshold"),
        ({"webhook": {"max_body_byte": 1}}, "cdp_bridge.E001", "webhook.max_body_byte"),
        ({"webhook": {"queue": "rq"}}, "cdp_bridge.E002", "webhook.queue"),
        (
            {"processors": {"user_item": [{"priority": 5}]}},
            "cdp_bridge.E002",
            "processors.user_item[0].path",
        ),
    ],
)
def test_each_problem_names_its_key_path_and_check_id(cdp_config, raw, check_id, path):
    report = cdp_config(raw)
    assert (check_id, path) in {(p.check_id, p.path) for p in report.problems}, report.problems


def test_an_unknown_key_suggests_the_key_that_was_meant(cdp_config):
    report = cdp_config({"system": {"default": {"cdp": {"activation": []}}}})
    assert problems_by_id(report)["cdp_bridge.E001"].hint == "Did you mean 'activations'?"


def test_every_problem_is_reported_not_just_the_first(cdp_config):
    report = cdp_config(
        {
            "system": {"default": {"cdp": {"account_number": "x", "strem_base_url": "y"}}},
            "data_export": {"schedule": {"user": [{"interval": "bad"}]}},
        }
    )
    assert {p.check_id for p in report.problems} == {
        "cdp_bridge.E001",
        "cdp_bridge.E003",
        "cdp_bridge.E005",
    }


def test_runtime_use_of_a_broken_configuration_raises_with_the_key_path(cdp_config):
    cdp_config({"system": {"default": {"cdp": {"account_number": "x"}}}, "bulk_async_threshold": 0})
    with pytest.raises(ConfigurationError) as raised:
        conf.get_scope()
    message = str(raised.value)
    assert "system.default.cdp.account_number: the account number must be numeric" in message
    assert "(1 more: run manage.py check)" in message


def test_the_same_activation_inherited_by_several_scopes_is_not_a_duplicate(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop_de": {}, "shop_en": {}},
            "system": {"default": {"cdp": {"activations": [ACTIVATION]}}},
        }
    )
    assert report.problems == ()


def test_one_client_id_in_two_scopes_with_different_settings_is_an_error(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop_de": {}, "shop_en": {}},
            "system": {
                "shop_de": {"cdp": {"activations": [ACTIVATION]}},
                "shop_en": {
                    "cdp": {"activations": [{**ACTIVATION, "segment_group_identifier": "other"}]}
                },
            },
        }
    )
    problem = problems_by_id(report)["cdp_bridge.E007"]
    assert problem.path == "system.shop_en.cdp.activations[0].client_id"
    assert "scope 'shop_de'" in problem.message


def test_stream_ids_in_raptor_form_and_as_uuid_are_valid():
    assert conf.is_valid_stream_id("00000000-00000000-00000000-00000000")
    assert conf.is_valid_stream_id("123e4567-e89b-12d3-a456-426614174000")
    assert not conf.is_valid_stream_id("123e4567e89b12d3a456426614174000")
    assert not conf.is_valid_stream_id("zzzzzzzz-00000000-00000000-00000000")


def test_schedule_entries_and_sources_are_typed(cdp_config):
    cdp_config(
        {
            "scopes": {"shop": {}},
            "data_export": {
                "schedule": {
                    "content": [
                        {
                            "interval": "*/15 * * * *",
                            "options": "--no-draft --content-type=article",
                            "scope": "shop",
                        },
                    ]
                }
            },
            "sources": {
                "content": {
                    "article": {
                        "model": "testapp.Article",
                        "name_field": "title",
                        "modified_field": "updated_at",
                        "exclude": ["body"],
                        "filter": {"published": True},
                    }
                }
            },
        }
    )
    config = conf.cdp_settings()
    (entry,) = config.schedule
    assert (entry.kind, entry.interval, entry.options, entry.scope, entry.name) == (
        "content",
        "*/15 * * * *",
        "--no-draft --content-type=article",
        "shop",
        "content[0]",
    )
    article = config.sources_of("content")["article"]
    assert article.exclude == ("body",)
    assert dict(article.filter) == {"published": True}
    assert config.sources_of("user")["user"].model == "auth.User"  # still there by default


def test_tracking_defaults_follow_raptors_documentation(cdp_config):
    cdp_config({})
    tracking = conf.get_scope().tracking
    assert tracking.script_url == "https://deliver.raptorstatic.com/script/raptor-3.0.min.js"
    assert tracking.server_url == "https://t.raptorsmartadvisor.com"
    assert tracking.cookie_name == "rsa"
    assert [tracking.parameter(name) for name in ("event_type", "product_id", "price")] == [
        "p1",
        "p2",
        "p12",
    ]


def test_tracking_parameters_merge_name_by_name_across_scopes(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop_de": {"hosts": ["de.shop.example"]}},
            "system": {
                "default": {"cdp": {"tracking": {"parameters": {"quantity": "p30"}}}},
                "shop_de": {"cdp": {"tracking": {"parameters": {"currency": "p31"}}}},
            },
        }
    )
    assert report.problems == ()
    tracking = conf.get_scope("shop_de").tracking
    assert (tracking.parameter("quantity"), tracking.parameter("currency")) == ("p30", "p31")
    assert tracking.parameter("order_id") == "p21"


def test_a_tracking_parameter_must_be_a_known_name_and_a_raptor_position(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {"cdp": {"tracking": {"parameters": {"prise": "p12", "quantity": "q5"}}}}
            }
        }
    )
    problems = {problem.path: problem for problem in report.problems}
    typo = problems["system.default.cdp.tracking.parameters.prise"]
    assert (typo.check_id, typo.hint) == ("cdp_bridge.E001", "Did you mean 'price'?")
    wrong = problems["system.default.cdp.tracking.parameters.quantity"]
    assert wrong.check_id == "cdp_bridge.E002"
    assert "'q5' is not a Raptor tracking parameter" in wrong.message


@pytest.mark.parametrize(
    "key",
    ["stream_base_url", "membership.base_url", "tracking.server_url"],
)
@pytest.mark.parametrize("url", ["in.raptorsmartadvisor.com", "ftp://in.example", "https://"])
def test_service_urls_must_be_http_urls(cdp_config, key, url):
    block = url
    for part in reversed(key.split(".")):
        block = {part: block}
    report = cdp_config({"system": {"default": {"cdp": block}}})
    assert ("cdp_bridge.E002", f"system.default.cdp.{key}") in {
        (p.check_id, p.path) for p in report.problems
    }
