"""Tracked events reach the sandbox and make `did` audiences; the membership API answers."""

import base64

import pytest
import requests
from django.contrib.auth.models import User
from django.core.management import call_command

from cdp_bridge import conf, tracking
from cdp_bridge.personalisation.audience_api import fetch_audiences, visitor_audiences
from tests.testapp.models import Category, Product

pytestmark = pytest.mark.django_db(transaction=True)  # track() sends after commit

LAPTOP_VIEWERS = {
    "id": "laptop-viewers",
    "name": "Laptop viewers",
    "all": [{"did": "visit", "category": "Laptops", "at_least": 2, "within_days": 30}],
}
NEVER_BOUGHT = {"id": "never-bought", "all": [{"did not": "buy"}]}


@pytest.fixture
def laptop(db):
    laptops = Category.objects.create(name="Laptops")
    product = Product.objects.create(sku="LAP-1", name="Nimbus", product_type="laptop", price=1)
    product.category = laptops  # the tracking tags follow an item's category attribute
    return product


def track(*args, **kwargs):
    assert tracking.track(*args, consented=True, **kwargs)
    assert tracking.flush(10)


def test_server_side_events_make_did_audiences(site, laptop):
    ada, bob = User.objects.create_user("ada"), User.objects.create_user("bob")
    call_command("stream_user_data", "--no-draft", "-v", "0")
    site.define([LAPTOP_VIEWERS, NEVER_BOUGHT])
    for _ in range(2):
        track("visit", laptop, user=ada, cookie_id="cookie-ada")
    track("visit", laptop, user=bob)
    track("buy", laptop, user=bob, quantity=1)

    [buy, *visits] = site.events()
    assert (buy["event_type"], buy["person"], buy["params"]["p2"]) == ("buy", str(bob.pk), "LAP-1")
    assert buy["source"] == "server"
    assert visits[-1]["cookie_id"] == "cookie-ada"
    assert visits[-1]["params"]["p4"].endswith("#Laptops")
    assert site.members("laptop-viewers") == [str(ada.pk)]  # bob visited once
    assert site.members("never-bought") == [str(ada.pk)]


def test_the_membership_api_answers_an_anonymous_visitor_by_cookie(site, laptop):
    site.define([LAPTOP_VIEWERS, NEVER_BOUGHT], membership=["laptop-viewers", "never-bought"])
    for _ in range(2):
        track("visit", laptop, cookie_id="visitor-1")
    scope = conf.get_scope()
    assert fetch_audiences(scope.membership, "visitor-1") == {"laptop-viewers", "never-bought"}
    assert visitor_audiences(scope, "visitor-1") == {"laptop-viewers", "never-bought"}
    assert fetch_audiences(scope.membership, "nobody") == frozenset()  # 404: no profile


def test_the_membership_api_checks_the_activation_id_and_api_key(site):
    site.define([NEVER_BOUGHT], membership=["never-bought"])
    url = f"{site.url}/api/v3/memberships/coid"
    wrong = requests.get(
        url,
        params={"identifierValue": "x"},
        headers={"X-ACTIVATION-ID": "sandbox-membership", "X-API-KEY": "wrong"},
        timeout=5,
    )
    assert wrong.status_code == 401
    assert requests.get(url, params={"identifierValue": "x"}, timeout=5).status_code == 401


def test_a_cookie_linked_to_a_user_gives_the_visitor_that_users_audiences(site, laptop):
    ada = User.objects.create_user("ada")
    call_command("stream_user_data", "--no-draft", "-v", "0")
    site.define([LAPTOP_VIEWERS], membership=["laptop-viewers"])
    ruid = base64.b64encode(str(ada.pk).encode()).decode()
    # the browser script's setRuid: the cookie and the user id, without an event
    requests.get(f"{site.url}/12345.rsa", params={"coid": "c-9", "ruid": ruid}, timeout=5)
    track("visit", laptop, user=ada)
    track("visit", laptop, user=ada)
    assert fetch_audiences(conf.get_scope().membership, "c-9") == {"laptop-viewers"}
