"""The tracking tags: Raptor's script with consent and user id, and events mapped to p1..p999."""

import base64
import json
import logging
import re
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import TemplateSyntaxError, engines
from django.test import RequestFactory
from werkzeug import Response

from cdp_bridge import conf
from cdp_bridge.tracking import flush
from tests.testapp.models import Article, Category, Product

ACCOUNT = 12345
COOKIE_ID = "8d8ac610-566d-4ef0-9c22-186b2a5ed793"
SOURCES = {
    "product": {"shop": {"model": "testapp.Product", "code_field": "sku", "name_field": "name"}},
    "content": {"blog": {"model": "testapp.Article", "name_field": "title"}},
}


@pytest.fixture
def tracking(cdp_config):
    """Configure the default scope's tracking keys (account 12345); returns the scope."""

    def configure(**keys):
        cdp_config(
            {
                "system": {"default": {"cdp": {"account_number": ACCOUNT, "tracking": keys}}},
                "sources": SOURCES,
            }
        )
        return conf.get_scope()

    return configure


@pytest.fixture
def laptop():
    return Product(
        pk=7, sku="lap-0007", name="Nimbus Air", product_type="laptop", price=Decimal("999.50")
    )


def render(source, user=None, request_attributes=None, cookies="", **context):
    request = RequestFactory().get("/", HTTP_COOKIE=cookies)
    request.user = user or AnonymousUser()
    for name, value in (request_attributes or {}).items():
        setattr(request, name, value)
    return engines["django"].from_string("{% load cdp %}" + source).render(context, request=request)


def pushed_events(html):
    return [json.loads(found) for found in re.findall(r'push\("trackEvent",(\{.*?\})\);', html)]


def set_ruid(html):
    found = re.search(r'push\("setRuid",("[^"]*")\)', html)
    return json.loads(found.group(1)) if found else None


# -- the script ------------------------------------------------------------------------------------


def test_the_script_queues_events_for_the_account_and_waits_for_consent(tracking):
    tracking()
    html = render("{% cdp_tracking_script %}")
    assert 'customerId:"12345"' in html
    assert 'q:[{event:"trackevent",params:{p1:"pageview"}}]' in html
    assert 'g.src="https://deliver.raptorstatic.com/script/raptor-3.0.min.js"' in html
    assert 'd.addEventListener("enableTracking",load)' in html
    assert "load();" not in html


def test_the_script_loads_at_once_when_consent_is_known_or_not_required(tracking):
    tracking()
    assert "load();" in render("{% cdp_tracking_script consented=True %}")
    tracking(consent_required=False)
    html = render("{% cdp_tracking_script %}")
    assert "load();" in html
    assert "enableTracking" not in html


@pytest.mark.django_db
def test_a_logged_in_user_is_identified_by_primary_key(tracking):
    tracking(user_id="pk")
    user = User.objects.create_user("ada")
    assert set_ruid(render("{% cdp_tracking_script %}", user=user)) == str(user.pk)


@pytest.mark.django_db
def test_a_logged_in_user_is_identified_by_a_keyed_hash_when_hashed(tracking, settings):
    tracking(user_id="hashed")
    user = User.objects.create_user("ada")
    ruid = set_ruid(render("{% cdp_tracking_script %}", user=user))
    assert re.fullmatch(r"[0-9a-f]{64}", ruid)
    assert ruid == set_ruid(render("{% cdp_tracking_script %}", user=user))  # stable
    settings.SECRET_KEY = "another-secret-key"
    assert ruid != set_ruid(render("{% cdp_tracking_script %}", user=user))  # not guessable


@pytest.mark.django_db
def test_a_logged_in_user_is_not_identified_when_user_id_is_none(tracking):
    tracking(user_id="none")
    user = User.objects.create_user("ada")
    html = render("{% cdp_tracking_script %}{% cdp_track_event 'visit' 'sku-1' %}", user=user)
    assert "setRuid" not in html
    assert "p7" not in pushed_events(html)[0]


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["pk", "hashed"])
@pytest.mark.parametrize("field_name", ["email", "last_login"])  # empty, and NULL
def test_a_user_without_a_person_identifier_is_not_identified(cdp_config, mode, field_name):
    """Not as "None" or "" (nor their hash): every such user would be one person to the CDP."""
    activation = {
        "client_id": "raptor",
        "client_secret": "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5",
        "segment_group_identifier": "cdp",
        "person_identifier_field": field_name,
    }
    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": ACCOUNT,
                        "tracking": {"user_id": mode},
                        "activations": [activation],
                    }
                }
            }
        }
    )
    for user in (User.objects.create_user("ada"), User.objects.create_user("bob")):
        html = render("{% cdp_tracking_script %}{% cdp_track_event 'visit' 'sku-1' %}", user=user)
        assert "setRuid" not in html
        assert "p7" not in pushed_events(html)[0]


def test_an_anonymous_visitor_is_not_identified(tracking):
    tracking(user_id="pk")
    assert "setRuid" not in render("{% cdp_tracking_script %}")


def test_a_csp_nonce_from_the_context_or_the_request_is_on_every_script(tracking):
    tracking()
    source = "{% cdp_tracking_script %}{% cdp_track_event 'visit' 'sku-1' %}"
    html = render(source, csp_nonce="n0nce")
    assert html.count('<script nonce="n0nce">') == 2
    assert 'g.nonce="n0nce"' in html  # the main script it inserts carries it too
    html = render(source, request_attributes={"csp_nonce": "fr0m-django-csp"})
    assert html.count('<script nonce="fr0m-django-csp">') == 2
    assert "nonce" not in render(source)


def test_nothing_is_rendered_when_tracking_is_off_or_has_no_account(tracking, cdp_config):
    source = "{% cdp_tracking_script %}{% cdp_track_event 'visit' 'sku-1' %}"
    tracking(enabled=False)
    assert render(source) == ""
    cdp_config({})
    assert render(source) == ""


def test_the_script_url_can_be_changed(tracking):
    tracking(script_url="https://cdn.example/raptor.js")
    assert 'g.src="https://cdn.example/raptor.js"' in render("{% cdp_tracking_script %}")


def test_a_wrong_argument_is_a_syntax_error_naming_the_tag():
    with pytest.raises(TemplateSyntaxError, match="'cdp_tracking_script' received unexpected"):
        render("{% cdp_tracking_script consent=True %}")


# -- events ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_product_visit_carries_raptors_parameters(tracking, laptop):
    tracking(user_id="pk")
    user = User.objects.create_user("ada")
    html = render("{% cdp_track_event 'visit' product currency='EUR' %}", user=user, product=laptop)
    assert pushed_events(html) == [
        {
            "p1": "visit",
            "p2": "lap-0007",  # the export source's code_field
            "p3": "Nimbus Air",  # its name_field
            "p6": "EUR",
            "p7": str(user.pk),
            "p12": "999.50",
        }
    ]


def test_basket_events_carry_the_quantity_and_the_basket_content(tracking, laptop):
    tracking()
    html = render(
        "{% cdp_track_event 'basket' product quantity=2 basket_content=skus basket_id='b-1' %}",
        product=laptop,
        skus=["lap-0007", "pho-0001"],
    )
    [event] = pushed_events(html)
    assert event["p1"] == "basket"
    assert event["p5"] == "2"
    assert event["p10"] == "lap-0007,pho-0001"  # Raptor: a comma-separated list of product ids
    assert event["p11"] == "b-1"


def test_buy_events_carry_the_order(tracking, laptop):
    tracking()
    html = render(
        "{% cdp_track_event 'buy' product quantity=1 order_id='ord-9' price=paid %}",
        product=laptop,
        paid=Decimal("899.00"),
    )
    [event] = pushed_events(html)
    assert (event["p1"], event["p2"], event["p21"], event["p12"]) == (
        "buy",
        "lap-0007",
        "ord-9",
        "899.00",
    )


def test_item_clicks_carry_the_module_and_the_target(tracking):
    tracking()
    html = render(
        "{% cdp_track_event 'itemclick' 'lap-0007' module_name='home' redirect_url='/p/' %}"
    )
    assert pushed_events(html) == [
        {"p1": "itemclick", "p2": "lap-0007", "p13": "home", "p14": "/p/"}
    ]


def test_a_content_visit_carries_the_content_and_its_category(tracking):
    tracking()
    article = Article(pk=3, title="Why batteries matter", category=Category(pk=5, name="Guides"))
    html = render("{% cdp_track_event 'contentvisit' article %}", article=article)
    assert pushed_events(html) == [
        {"p1": "contentvisit", "p2": "3", "p3": "Why batteries matter", "p4": "5#Guides"}
    ]


def test_the_parameter_positions_follow_the_configuration(tracking, laptop):
    tracking(parameters={"price": "p40", "product_name": "p30"})
    [event] = pushed_events(render("{% cdp_track_event 'visit' product %}", product=laptop))
    assert event == {"p1": "visit", "p2": "lap-0007", "p30": "Nimbus Air", "p40": "999.50"}


def test_values_given_to_the_tag_replace_those_of_the_product(tracking, laptop):
    tracking()
    html = render(
        "{% cdp_track_event 'visit' product price=None product_name='Air' %}", product=laptop
    )
    assert pushed_events(html) == [{"p1": "visit", "p2": "lap-0007", "p3": "Air", "p12": "999.50"}]


def test_event_values_cannot_close_the_script_element(tracking):
    tracking()
    html = render("{% cdp_track_event 'visit' '</script><script>alert(1)' %}")
    assert "</script><script>alert" not in html
    assert pushed_events(html)[0]["p2"] == "</script><script>alert(1)"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% cdp_track_event %}", "takes an event type"),
        ("{% cdp_track_event 'pageview' %}", "Unknown tracking event 'pageview'"),
        ("{% cdp_track_event 'visit' product order_id=1 %}", "does not carry order_id"),
        ("{% cdp_track_event 'visit' a b c %}", "takes an event type"),
        ("{% cdp_track_event 'visit' price=1 product %}", "takes an event type"),
        ("{% cdp_track_event 'visit' price=1 price=2 %}", "'price=2' is not one"),
    ],
)
def test_a_wrong_event_or_argument_is_a_syntax_error_naming_the_tag(source, message):
    with pytest.raises(TemplateSyntaxError, match=message) as raised:
        render(source)
    assert "cdp_track_event" in str(raised.value)


def test_an_unknown_event_type_from_a_variable_leaves_the_event_out_with_a_warning(
    tracking, caplog
):
    tracking()
    with caplog.at_level("WARNING", logger="cdp_bridge.tracking"):
        page = render("<p>page</p>{% cdp_track_event kind 'sku' %}", kind="pageview")
    assert page == "<p>page</p>"  # the page still renders
    (warning,) = caplog.records
    assert "use one of visit, contentvisit, basket, buy, itemclick" in warning.getMessage()


# -- events sent from the server (tracking_type: server) -------------------------------------------


@pytest.fixture
def server_tracking(httpserver, tracking):
    """tracking_type: server, with Raptor's tracking endpoint on loopback."""

    def configure(**keys):
        return tracking(tracking_type="server", server_url=httpserver.url_for("/t"), **keys)

    return configure


def sent_events(httpserver):
    assert flush(timeout=10)
    return [request.args.to_dict() for request, _ in httpserver.log]


def test_with_server_tracking_the_event_is_sent_from_the_server_not_rendered(
    server_tracking, httpserver, laptop
):
    server_tracking()
    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_data("")
    user = User(pk=42, username="ada")  # no database: the page is not in a transaction
    source = "<p>{% cdp_track_event 'visit' product currency='EUR' consented=True %}</p>"
    html = render(source, user=user, cookies=f"rsa={COOKIE_ID}", product=laptop)
    assert html == "<p></p>"
    assert sent_events(httpserver) == [
        {
            "p1": "visit",
            "p2": "lap-0007",
            "p3": "Nimbus Air",
            "p6": "EUR",
            "p7": "42",
            "p12": "999.50",
            "coid": COOKIE_ID,  # the visitor's Raptor cookie, from the request
            "ruid": base64.b64encode(b"42").decode(),
        }
    ]


def test_an_event_carries_the_same_parameters_from_the_browser_or_the_server(
    tracking, server_tracking, httpserver, laptop
):
    source = "{% cdp_track_event 'buy' product quantity=2 order_id='ord-9' consented=True %}"
    tracking()
    [in_the_browser] = pushed_events(render(source, product=laptop))
    server_tracking()
    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_data("")
    render(source, product=laptop)
    [from_the_server] = sent_events(httpserver)
    assert from_the_server == in_the_browser
    assert "consented" not in str(in_the_browser)


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("{% cdp_track_event 'visit' 'sku-1' %}", {}),
        ("{% cdp_track_event 'visit' 'sku-1' consented=choice %}", {"choice": False}),
        ("{% cdp_track_event 'visit' 'sku-1' consented=choice %}", {}),  # a missing variable
    ],
    ids=["not-said", "declined", "unknown"],
)
def test_without_consent_the_server_sends_nothing(server_tracking, httpserver, source, context):
    server_tracking()  # consent_required: true, the default
    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_data("")
    assert render(source, **context) == ""
    assert sent_events(httpserver) == []


def test_consent_given_by_a_variable_lets_the_server_send(server_tracking, httpserver):
    server_tracking()
    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_data("")
    render("{% cdp_track_event 'visit' 'sku-1' consented=choice %}", choice=True)
    assert [event["p2"] for event in sent_events(httpserver)] == ["sku-1"]


def test_where_consent_is_not_required_the_server_sends_without_it(server_tracking, httpserver):
    server_tracking(consent_required=False)
    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_data("")
    render("{% cdp_track_event 'visit' 'sku-1' %}")
    assert [event["p2"] for event in sent_events(httpserver)] == ["sku-1"]


def test_in_the_browser_consent_is_left_to_the_script(tracking):
    tracking()
    html = render("{% cdp_track_event 'visit' 'sku-1' consented=False %}")
    assert pushed_events(html) == [{"p1": "visit", "p2": "sku-1"}]


def test_a_slow_tracking_endpoint_does_not_hold_the_page(server_tracking, httpserver):
    server_tracking(consent_required=False)
    arrived, answer = threading.Event(), threading.Event()

    def slow(request):
        arrived.set()
        answer.wait(10)
        return Response("")

    httpserver.expect_request(f"/t/{ACCOUNT}.rsa").respond_with_handler(slow)
    try:
        assert render("page{% cdp_track_event 'visit' 'sku-1' %}") == "page"
        assert arrived.wait(10)  # the event is on its way ...
        assert not answer.is_set()  # ... and the page was rendered without its answer
    finally:
        answer.set()
    assert len(sent_events(httpserver)) == 1


def test_an_unreachable_tracking_endpoint_leaves_the_page_as_it_is(tracking, caplog):
    tracking(tracking_type="server", server_url="http://127.0.0.1:9", consent_required=False)
    with caplog.at_level(logging.WARNING, logger="cdp_bridge.tracking"):
        assert render("page{% cdp_track_event 'visit' 'sku-1' %}") == "page"
        assert flush(timeout=10)
    assert "did not reach http://127.0.0.1:9/12345.rsa: ConnectionError" in caplog.text


def test_a_wrong_event_type_from_a_variable_is_left_out_on_the_server_too(
    server_tracking, httpserver, caplog
):
    server_tracking(consent_required=False)
    with caplog.at_level("WARNING", logger="cdp_bridge.tracking"):
        assert render("page{% cdp_track_event kind 'sku' %}", kind="pageview") == "page"
    assert "left out an event: Unknown tracking event 'pageview'" in caplog.text
    assert sent_events(httpserver) == []


def test_a_mistyped_tracking_type_is_a_configuration_error_naming_its_key(cdp_config):
    report = cdp_config(
        {"system": {"default": {"cdp": {"tracking": {"tracking_type": "backend"}}}}}
    )
    [problem] = report.problems
    assert (problem.check_id, problem.path) == (
        "cdp_bridge.E024",
        "system.default.cdp.tracking.tracking_type",
    )
    assert "'backend' is not one of client, server" in problem.message
