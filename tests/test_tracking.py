"""The tracking tags: Raptor's script with consent and user id, and events mapped to p1..p999."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import TemplateSyntaxError, engines
from django.test import RequestFactory
from django.utils.crypto import salted_hmac

from cdp_bridge import conf
from cdp_bridge.exceptions import TrackingEventError
from cdp_bridge.tracking import (
    HASHED_USER_ID_SALT,
    category_path,
    event_parameters,
    tracked_user_id,
)
from tests.conftest import GOOD_SECRET, STREAM_ID
from tests.testapp.models import Article, Category, Product

ACCOUNT = 12345
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


def render(source, user=None, request_attributes=None, **context):
    request = RequestFactory().get("/")
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


def test_a_category_path_runs_from_the_top_category_down_without_separators():
    top = Category(pk=400, name="Running")
    middle = Category(pk=402, name="Clothes; and, shoes")
    middle.parent = top
    leaf = Category(pk=422, name="Jackets")
    leaf.parent = middle
    assert category_path(Article(category=leaf)) == "400#Running;402#Clothes and shoes;422#Jackets"
    assert category_path(Article()) is None


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


def test_event_parameters_refuse_what_an_event_does_not_carry(tracking):
    scope = tracking()
    with pytest.raises(TrackingEventError, match="does not carry module_name"):
        event_parameters(scope, "buy", "sku", module_name="home")


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["pk", "hashed"])
def test_the_tracked_user_id_is_the_user_exports_id(cdp_config, mode):
    """Activations matching on another field: the export's id and setRuid still agree."""
    from cdp_bridge.export.runner import ExportOptions, run_export
    from cdp_bridge.identity import person_identifier
    from cdp_bridge.testing import outbox

    cdp_config(
        {
            "system": {
                "default": {
                    "cdp": {
                        "account_number": 1234,
                        "tracking": {"user_id": mode},
                        "data_export": {
                            "user_data": {
                                "transport": "memory",
                                "stream_file": {"stream_id": STREAM_ID},
                            }
                        },
                        "activations": [
                            {
                                "client_id": "raptor",
                                "client_secret": GOOD_SECRET,
                                "segment_group_identifier": "cdp",
                                "person_identifier_field": "username",
                            }
                        ],
                    }
                }
            }
        }
    )
    user = User.objects.create_user("ada-lovelace")
    outbox.clear()
    run_export(ExportOptions("user", draft=False))
    (exported,) = [row["id"] for batch in outbox for row in batch.rows]
    assert exported == "ada-lovelace" == person_identifier(user, conf.get_scope())
    tracked = tracked_user_id(user, conf.get_scope())
    if mode == "pk":
        assert tracked == exported
    else:
        assert tracked == salted_hmac(HASHED_USER_ID_SALT, exported, algorithm="sha256").hexdigest()
