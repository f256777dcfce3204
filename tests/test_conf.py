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
            "cdp_bridge.E022",
            "system.default.cdp.activations[0].client_secret",
        ),
        (
            {
                "system": {
                    "default": {"cdp": {"activations": [{**ACTIVATION, "require_signature": True}]}}
                }
            },
            "cdp_bridge.E022",
            "system.default.cdp.activations[0].signing_secret",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"transport": "ftp"}}}}}},
            "cdp_bridge.E024",
            "system.default.cdp.data_export.user_data.transport",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"transport": "file"}}}}}},
            "cdp_bridge.E022",
            "system.default.cdp.data_export.user_data.file.directory",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"batch_size": 0}}}}}},
            "cdp_bridge.E023",
            "system.default.cdp.data_export.user_data.batch_size",
        ),
        (
            {"system": {"default": {"cdp": {"tracking": {"user_id": "email"}}}}},
            "cdp_bridge.E024",
            "system.default.cdp.tracking.user_id",
        ),
        (
            {"sources": {"content": {"article": {"name_field": "title"}}}},
            "cdp_bridge.E022",
            "sources.content.article.model",
        ),
        (
            {"sources": {"content": {"article": {"model": "Article"}}}},
            "cdp_bridge.E028",
            "sources.content.article.model",
        ),
        (
            {"sources": {"user": {"user": {"model": "auth.User", "code_field": "x"}}}},
            "cdp_bridge.E001",
            "sources.user.user.code_field",
        ),
        ({"bulk_async_threshold": "many"}, "cdp_bridge.E002", "bulk_async_threshold"),
        ({"webhook": {"max_body_byte": 1}}, "cdp_bridge.E001", "webhook.max_body_byte"),
        ({"webhook": {"queue": "rq"}}, "cdp_bridge.E024", "webhook.queue"),
        (
            {"processors": {"user_item": [{"priority": 5}]}},
            "cdp_bridge.E022",
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
    assert "system.default.cdp.account_number: must be a whole number, not str 'x'." in message
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
    assert wrong.check_id == "cdp_bridge.E027"
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
    assert ("cdp_bridge.E025", f"system.default.cdp.{key}") in {
        (p.check_id, p.path) for p in report.problems
    }


@pytest.mark.parametrize(
    ("raw", "check_id", "path"),
    [
        ({"bulk_async_threshold": 0}, "cdp_bridge.E023", "bulk_async_threshold"),
        (
            {"system": {"default": {"cdp": {"membership": {"timeout": 0}}}}},
            "cdp_bridge.E023",
            "system.default.cdp.membership.timeout",
        ),
        (
            {"system": {"default": {"cdp": {"activations": [{**ACTIVATION, "client_id": " "}]}}}},
            "cdp_bridge.E026",
            "system.default.cdp.activations[0].client_id",
        ),
        (
            {
                "system": {
                    "default": {"cdp": {"activations": [{**ACTIVATION, "client_secret": []}]}}
                }
            },
            "cdp_bridge.E026",
            "system.default.cdp.activations[0].client_secret",
        ),
        ({"scopes": {"global": {}}}, "cdp_bridge.E029", "scopes.global"),
        (
            {"scopes": {"shop": {"groups": ["shop"]}}, "system": {"shop": {"cdp": {}}}},
            "cdp_bridge.E029",
            "system.shop",
        ),
        (
            {"system": {"default": {"cdp": {"tracking": {"tracking_type": "browser"}}}}},
            "cdp_bridge.E024",
            "system.default.cdp.tracking.tracking_type",
        ),
        (
            {"system": {"default": {"cdp": {"account_number": True}}}},
            "cdp_bridge.E003",
            "system.default.cdp.account_number",
        ),
        (
            {"system": {"default": {"cdp": {"tracking": {"enabled": "yes"}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.tracking.enabled",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"usr_data": {}}}}}},
            "cdp_bridge.E001",
            "system.default.cdp.data_export.usr_data",
        ),
        (
            {"system": {"default": {"cdp": {"data_export": {"user_data": {"stream_file": "x"}}}}}},
            "cdp_bridge.E002",
            "system.default.cdp.data_export.user_data.stream_file",
        ),
        (
            {"system": {"default": {"connector_raptor": {"customer_id": "12ab"}}}},
            "cdp_bridge.E003",
            "system.default.connector_raptor.customer_id",
        ),
        (
            {"system": {"default": {"conector_raptor": {}}}},
            "cdp_bridge.E001",
            "system.default.conector_raptor",
        ),
    ],
)
def test_each_rule_has_its_own_check_id(cdp_config, raw, check_id, path):
    report = cdp_config(raw)
    assert (check_id, path) in {(p.check_id, p.path) for p in report.problems}, report.problems


@pytest.mark.parametrize("priority", ["high", 1.5, True])
def test_a_processor_priority_that_is_not_a_whole_number_is_an_error_not_a_traceback(
    cdp_config, priority
):
    report = cdp_config(
        {"processors": {"field_value": [{"path": "tests.processors.Upper", "priority": priority}]}}
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E002",
        "processors.field_value[0].priority",
    )
    assert "must be a whole number" in problem.message
    with pytest.raises(ConfigurationError, match=r"processors\.field_value\[0\]\.priority"):
        conf.cdp_settings()


def test_problems_know_their_key_path_as_a_tuple(cdp_config):
    report = cdp_config({"data_export": {"schedule": {"user": [{"interval": "61 * * * *"}]}}})
    (problem,) = report.problems
    assert problem.key == ("data_export", "schedule", "user", 0, "interval")
    assert report.problems_under("data_export", "schedule") == (problem,)
    assert report.problems_under("system") == ()


def test_a_refused_schedule_entry_is_told_apart_from_the_entries_that_can_run(cdp_config):
    report = cdp_config(
        {
            "data_export": {
                "schedule": {
                    "user": [
                        {"interval": "*/15 * * * *", "options": "--no-draft"},
                        {"interval": "0 0 31 2 *", "options": "--draft"},
                    ],
                    "content": [{"interval": "@hourly", "scope": "nowhere"}],
                }
            }
        }
    )
    settings = report.require()
    assert [entry.name for entry in settings.schedule] == ["user[0]"]
    refused = {item.entry.name: item for item in report.refused_schedule}
    assert set(refused) == {"user[1]", "content[0]"}
    assert (refused["user[1]"].entry.interval, refused["user[1]"].entry.options) == (
        "0 0 31 2 *",
        "--draft",
    )
    assert [p.check_id for p in refused["user[1]"].problems] == ["cdp_bridge.E006"]
    assert "never fires" in refused["user[1]"].reason
    assert [p.check_id for p in refused["content[0]"].problems] == ["cdp_bridge.E014"]


def test_a_refused_schedule_entry_still_leaves_an_error_elsewhere_an_error(cdp_config):
    report = cdp_config(
        {
            "system": {"default": {"cdp": {"account_number": "x"}}},
            "data_export": {"schedule": {"user": [{"interval": "bad"}]}},
        }
    )
    with pytest.raises(ConfigurationError, match=r"system\.default\.cdp\.account_number"):
        report.require()


def test_a_schedule_problem_outside_any_entry_refuses_that_part_of_the_schedule_only(cdp_config):
    report = cdp_config(
        {
            "data_export": {
                "schedule": {
                    "usr": [{"interval": "@hourly"}],
                    "content": [{"interval": "@daily"}],
                }
            }
        }
    )
    settings = report.require()  # the exports, the webhook and tracking work on
    assert [entry.name for entry in settings.schedule] == ["content[0]"]
    assert [(p.path, p.check_id) for p in report.schedule_problems] == [
        ("data_export.schedule.usr", "cdp_bridge.E001")
    ]
    assert report.refused_schedule == ()


def test_an_item_with_any_problem_is_left_out_rather_than_read_with_a_default(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "activations": [
                            {**ACTIVATION, "require_signature": "yes", "signing_secret": "x" * 20}
                        ]
                    }
                }
            }
        }
    )
    assert [p.check_id for p in report.problems] == ["cdp_bridge.E002"]
    assert report.settings.scope("default").activations == ()


def test_a_problem_inherited_by_several_scopes_is_reported_once_where_it_is_written(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop_de": {}, "shop_en": {}},
            "system": {
                "default": {
                    "cdp": {
                        "activations": [
                            ACTIVATION,
                            {
                                **ACTIVATION,
                                "client_id": "other",
                                "person_identifier_field": "username",
                            },
                        ]
                    }
                }
            },
        }
    )
    assert [(p.check_id, p.path) for p in report.problems] == [
        ("cdp_bridge.E021", "system.default.cdp.activations[1].person_identifier_field")
    ]


def test_tracking_type_is_client_by_default_and_can_be_server(cdp_config):
    cdp_config(
        {
            "scopes": {"shop": {}},
            "system": {"shop": {"cdp": {"tracking": {"tracking_type": "server"}}}},
        }
    )
    assert conf.get_scope("default").tracking.tracking_type == "client"
    assert conf.get_scope("shop").tracking.tracking_type == "server"


def test_ibexas_connector_raptor_keys_are_the_cdp_keys_they_stand_for(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "connector_raptor": {
                        "enabled": False,
                        "customer_id": 123456,
                        "tracking_type": "server",
                        "recommendations_api_key": "api-key",
                        "recommendations_api_url": "https://reco.example",
                    }
                }
            }
        }
    )
    assert report.problems == ()
    scope = conf.get_scope()
    assert scope.account_number == 123456
    assert (scope.tracking.enabled, scope.tracking.tracking_type) == (False, "server")
    assert scope.connector_raptor.recommendations_api_key == "api-key"  # kept, not used yet


def test_a_customer_id_that_agrees_with_the_account_number_is_fine(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {"account_number": 123456},
                    "connector_raptor": {"customer_id": 123456},
                }
            }
        }
    )
    assert report.problems == ()


@pytest.mark.parametrize(
    ("default", "shop", "path"),
    [
        (
            {"cdp": {"account_number": 123456}},
            {"connector_raptor": {"customer_id": 654321}},
            "system.shop.connector_raptor.customer_id",
        ),
        (
            {"connector_raptor": {"tracking_type": "server"}},
            {"cdp": {"tracking": {"tracking_type": "client"}}},
            "system.default.connector_raptor.tracking_type",
        ),
        (
            {"cdp": {"tracking": {"enabled": True}}},
            {"connector_raptor": {"enabled": False}},
            "system.shop.connector_raptor.enabled",
        ),
    ],
)
def test_a_connector_key_that_disagrees_with_its_cdp_key_is_an_error(
    cdp_config, default, shop, path
):
    report = cdp_config({"scopes": {"shop": {}}, "system": {"default": default, "shop": shop}})
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == ("cdp_bridge.E034", path)
    assert "They are one setting" in problem.hint


def test_ibexa_4x_user_data_streaming_is_read_as_the_user_stream_with_a_warning(cdp_config):
    report = cdp_config(
        {"system": {"default": {"cdp": {"user_data_streaming": {"stream_id": STREAM_ID}}}}}
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.W003",
        "system.default.cdp.user_data_streaming",
    )
    assert "data_export: {user_data: {transport: stream_file" in problem.hint
    assert conf.get_scope().stream("user").stream_id == STREAM_ID


def test_a_bad_value_in_a_4x_form_is_reported_where_it_is_written(cdp_config):
    report = cdp_config(
        {"system": {"default": {"cdp": {"user_data_streaming": {"stream_id": "nope", "x": 1}}}}}
    )
    assert {(p.check_id, p.path) for p in report.problems} == {
        ("cdp_bridge.W003", "system.default.cdp.user_data_streaming"),
        ("cdp_bridge.E004", "system.default.cdp.user_data_streaming.stream_id"),
        ("cdp_bridge.E001", "system.default.cdp.user_data_streaming.x"),
    }


def test_the_4x_and_the_current_user_stream_must_agree(cdp_config):
    other = STREAM_ID.replace("0", "9")
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "user_data_streaming": {"stream_id": other},
                        "data_export": {"user_data": {"stream_file": {"stream_id": STREAM_ID}}},
                    }
                }
            }
        }
    )
    assert ("cdp_bridge.E034", "system.default.cdp.user_data_streaming.stream_id") in {
        (p.check_id, p.path) for p in report.problems
    }


def test_ibexa_4x_activations_as_one_mapping_are_read_as_a_list_of_one(cdp_config):
    report = cdp_config({"system": {"default": {"cdp": {"activations": ACTIVATION}}}})
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == ("cdp_bridge.W004", "system.default.cdp.activations")
    assert "activations: [{client_id: ..." in problem.hint
    (activation,) = conf.get_scope().activations
    assert activation.client_id == "raptor"


def test_activations_by_name_are_read_in_order_and_their_problems_name_them(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "activations": {
                            "newsletter": ACTIVATION,
                            "shop": {**ACTIVATION, "client_id": "shop", "client_secret": "abc"},
                        }
                    }
                }
            }
        }
    )
    assert {(p.check_id, p.path) for p in report.problems} == {
        ("cdp_bridge.W004", "system.default.cdp.activations"),
        ("cdp_bridge.E008", "system.default.cdp.activations.shop.client_secret"),
    }
    assert [a.client_id for a in report.settings.scope("default").activations] == ["raptor"]


def test_a_legacy_mapping_with_one_client_id_twice_is_an_error_naming_the_second(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "activations": {
                            "first": ACTIVATION,
                            "second": {**ACTIVATION, "client_secret": OTHER_SECRET},
                        }
                    }
                }
            }
        }
    )
    duplicate = problems_by_id(report)["cdp_bridge.E007"]
    assert duplicate.path == "system.default.cdp.activations.second.client_id"
    assert "'raptor'" in duplicate.message


@pytest.mark.parametrize(
    ("membership", "warned"),
    [
        ({"activation_id": "a-1", "api_key": "k-1"}, True),
        ({"activation_id": "a-1", "api_key": "k-1", "base_url": "https://cdp-api.example"}, False),
        ({"api_key": "k-1"}, False),
    ],
)
def test_a_membership_api_without_a_base_url_is_a_warning(cdp_config, membership, warned):
    report = cdp_config({"system": {"default": {"cdp": {"membership": membership}}}})
    found = [(p.check_id, p.path, p.is_error) for p in report.problems]
    expected = [("cdp_bridge.W005", "system.default.cdp.membership.base_url", False)]
    assert found == (expected if warned else [])
    assert conf.get_scope().membership.api_key == "k-1"  # a warning: the settings still load


# -- numbers and booleans: finite, and never text ------------------------------------------------

USER_DATA = ("system", "default", "cdp", "data_export", "user_data")


def user_data(**values):
    return {"system": {"default": {"cdp": {"data_export": {"user_data": values}}}}}


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (lambda n: user_data(stream_file={"read_timeout": n}), "stream_file.read_timeout"),
        (lambda n: user_data(stream_file={"retry_budget": n}), "stream_file.retry_budget"),
        (lambda n: user_data(batch_size=n), "batch_size"),
        (lambda n: {"webhook": {"max_body_bytes": n}}, "webhook.max_body_bytes"),
        (
            lambda n: {"system": {"default": {"cdp": {"membership": {"timeout": n}}}}},
            "system.default.cdp.membership.timeout",
        ),
    ],
)
def test_nan_and_infinity_are_an_error_naming_the_key(cdp_config, raw, path, number):
    report = cdp_config(raw(number))
    (problem,) = report.problems
    expected = path if path.startswith(("webhook", "system")) else ".".join((*USER_DATA, path))
    assert (problem.check_id, problem.path) == ("cdp_bridge.E037", expected)
    assert "finite" in problem.message
    with pytest.raises(ConfigurationError, match="must be a finite number"):
        conf.cdp_settings()


@pytest.mark.parametrize(
    ("raw", "path", "hint", "processor"),
    [
        (user_data(batch_size="30"), "batch_size", "30", "int"),
        (user_data(stream_file={"read_timeout": "30"}), "stream_file.read_timeout", "30", "float"),
        ({"webhook": {"token_ttl": " 600 "}}, "webhook.token_ttl", "600", "int"),
    ],
)
def test_a_number_written_as_text_is_refused_with_how_to_write_it(
    cdp_config, raw, path, hint, processor
):
    report = cdp_config(raw)
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E002"
    assert problem.path.endswith(path)
    assert "text" in problem.message
    assert f"unquoted ({hint})" in problem.hint
    assert f"%env({processor}:NAME)%" in problem.hint


def test_an_account_number_written_as_text_is_refused_under_its_own_id(cdp_config):
    report = cdp_config({"system": {"default": {"cdp": {"account_number": "123456"}}}})
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E003"
    assert "%env(int:NAME)%" in problem.hint


@pytest.mark.parametrize("text", ["true", "false", "yes"])
def test_a_boolean_written_as_text_is_refused_with_how_to_write_it(cdp_config, text):
    report = cdp_config({"system": {"default": {"cdp": {"tracking": {"enabled": text}}}}})
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E002",
        "system.default.cdp.tracking.enabled",
    )
    assert "%env(bool:NAME)%" in problem.hint
    assert "unquoted" in problem.hint


def test_a_placeholder_without_a_processor_names_the_one_to_add(cdp_config, monkeypatch, settings):
    settings.CDP_DEFAULT_ON = True
    monkeypatch.setenv("CDP_BATCH", "30")
    monkeypatch.setenv("CDP_SIGNED", "true")
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "data_export": {"user_data": {"batch_size": "%env(CDP_BATCH)%"}},
                        "tracking": {"enabled": "%env(default:CDP_DEFAULT_ON:CDP_SIGNED)%"},
                    }
                }
            }
        }
    )
    hints = {problem.path.rsplit(".", 1)[-1]: problem.hint for problem in report.problems}
    assert "%env(int:CDP_BATCH)%" in hints["batch_size"]
    assert "%env(bool:default:CDP_DEFAULT_ON:CDP_SIGNED)%" in hints["enabled"]


@pytest.mark.parametrize("written", ["%env(CDP_BATCH)%%env(CDP_PIN)%", "1%env(CDP_PIN)%"])
def test_a_number_built_from_placeholders_never_shows_the_environment(
    cdp_config, monkeypatch, written
):
    monkeypatch.setenv("CDP_BATCH", "30")
    monkeypatch.setenv("CDP_PIN", "8675309")
    report = cdp_config(user_data(batch_size=written))
    (problem,) = report.problems
    assert problem.check_id == "cdp_bridge.E002"
    assert "8675309" not in f"{problem.message} {problem.hint}"
    assert "%env(int:NAME)%" in problem.hint


def test_numbers_from_the_environment_with_their_processor_are_read(cdp_config, monkeypatch):
    monkeypatch.setenv("CDP_BATCH", "30")
    monkeypatch.setenv("CDP_TIMEOUT", "2.5")
    cdp_config(
        user_data(
            batch_size="%env(int:CDP_BATCH)%",
            stream_file={"read_timeout": "%env(float:CDP_TIMEOUT)%"},
        )
    )
    stream = conf.get_scope().stream("user")
    assert (stream.batch_size, stream.read_timeout) == (30, 2.5)


# -- null (YAML ~) is "not set" ----------------------------------------------------------------


def test_null_is_a_key_not_set_so_it_takes_its_default(cdp_config):
    report = cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": None,
                        "activations": None,
                        "tracking": {"enabled": None, "parameters": {"price": None}},
                        "data_export": {
                            "user_data": {
                                "transport": None,
                                "batch_size": None,
                                "stream_file": {"stream_id": None, "read_timeout": None},
                            }
                        },
                    }
                }
            },
            "scopes": {"shop": None},
            "bulk_async_threshold": None,
            "webhook": {"max_body_bytes": None},
            "data_export": {"schedule": {"user": None}},
            "processors": {"user_item": None},
        }
    )
    assert report.problems == ()
    scope = conf.get_scope()
    assert scope.activations == ()
    assert scope.tracking.enabled is True
    assert scope.tracking.parameter("price") == "p12"
    stream = scope.stream("user")
    assert (stream.transport, stream.batch_size, stream.read_timeout) == ("stream_file", 1000, 30)
    settings = conf.cdp_settings()
    assert settings.bulk_async_threshold == 100
    assert settings.webhook.max_body_bytes == 32 * 1024 * 1024
    assert settings.schedule == ()
    assert "shop" in settings.scopes


def test_null_in_a_scope_leaves_the_default_blocks_value_as_ibexa_does(cdp_config):
    cdp_config(
        {
            "scopes": {"shop": {}},
            "system": {
                "default": {"cdp": {"account_number": 1111}},
                "shop": {"cdp": {"account_number": None}},
            },
        }
    )
    assert conf.get_scope("shop").account_number == 1111


def test_null_where_a_value_is_required_is_a_missing_key(cdp_config):
    report = cdp_config(
        {"system": {"default": {"cdp": {"activations": [{**ACTIVATION, "client_id": None}]}}}}
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E022",
        "system.default.cdp.activations[0].client_id",
    )


def test_a_directory_under_the_home_directory_is_expanded(cdp_config, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    cdp_config(user_data(transport="file", file={"directory": "~/cdp-batches"}))
    assert conf.get_scope().stream("user").directory == tmp_path / "cdp-batches"


# -- system blocks that no scope takes --------------------------------------------------------


def test_a_system_block_with_a_typo_in_its_scope_is_a_warning_suggesting_the_scope(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop": {"hosts": ["shop.example"]}},
            "system": {"defualt": {"cdp": {"account_number": 1}}},
        }
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == ("cdp_bridge.W006", "system.defualt")
    assert not problem.is_error
    assert "Did you mean 'default'?" in problem.hint
    assert "default, shop" in problem.hint
    conf.cdp_settings()  # a warning: the configuration is usable


def test_a_system_block_of_a_declared_scope_or_group_is_not_warned_about(cdp_config):
    report = cdp_config(
        {
            "scopes": {"shop": {"groups": ["site_group"]}},
            "system": {
                "default": {"cdp": {}},
                "global": {"cdp": {}},
                "shop": {"cdp": {}},
                "site_group": {"cdp": {"account_number": 7}},
            },
        }
    )
    assert report.problems == ()
    assert conf.get_scope("shop").account_number == 7


def test_a_system_block_named_by_a_schedule_entry_is_a_scope_in_use(cdp_config):
    report = cdp_config(
        {
            "system": {"site": {"cdp": {"account_number": 4242}}},
            "data_export": {"schedule": {"user": [{"interval": "@daily", "scope": "site"}]}},
        }
    )
    assert report.problems == ()


def test_an_ibexa_siteaccess_group_no_scope_takes_is_a_warning_saying_how_to_join_it(
    cdp_config,
):
    report = cdp_config(
        {
            "scopes": {"shop": {}},
            "system": {"site_group": {"cdp": {"account_number": 7}}},
        }
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == ("cdp_bridge.W006", "system.site_group")
    assert "read as a scope named 'site_group'" in problem.message
    assert "groups: [site_group]" in problem.hint
    assert conf.get_scope("shop").account_number is None


# -- a secret's problems never repeat it ---------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "check_id"),
    [
        ("Xq7%Kp9LmN2%vB8-rest-of-it", "cdp_bridge.E039"),  # read as a container parameter
        ("Xq7-%env(Kp9LmN2-rest-of-it", "cdp_bridge.E032"),  # read as an unterminated placeholder
    ],
)
def test_a_secret_read_for_percent_signs_is_not_repeated_in_its_problem(
    cdp_config, secret, check_id
):
    report = cdp_config(
        {"system": {"default": {"cdp": {"activations": [{**ACTIVATION, "client_secret": secret}]}}}}
    )
    (problem,) = report.problems
    assert (problem.check_id, problem.path) == (
        check_id,
        "system.default.cdp.activations[0].client_secret",
    )
    assert "Kp9LmN2" not in f"{problem.message} {problem.hint}"
    assert "%env(NAME)%" in problem.hint and "%%" in problem.hint
