"""Tracking events: what each carries, and how values become Raptor's parameters."""

from decimal import Decimal

import pytest

from cdp_bridge import conf
from cdp_bridge.exceptions import TrackingEventError
from cdp_bridge.tracking.events import category_path, event_parameters, parameter_text
from tests.testapp.models import Article, Category


@pytest.fixture
def scope(cdp_config):
    cdp_config({"system": {"default": {"cdp": {"account_number": 12345}}}})
    return conf.get_scope()


def test_a_category_path_runs_from_the_top_category_down_without_separators():
    top = Category(pk=400, name="Running")
    middle = Category(pk=402, name="Clothes; and, shoes")
    middle.parent = top
    leaf = Category(pk=422, name="Jackets")
    leaf.parent = middle
    assert category_path(Article(category=leaf)) == "400#Running;402#Clothes and shoes;422#Jackets"
    assert category_path(Article()) is None


def test_a_category_that_is_its_own_ancestor_appears_once():
    looping = Category(pk=1, name="Loop")
    looping.parent = looping
    assert category_path(Article(category=looping)) == "1#Loop"


def test_event_parameters_refuse_what_an_event_does_not_carry(scope):
    with pytest.raises(TrackingEventError, match="does not carry module_name"):
        event_parameters(scope, "buy", "sku", module_name="home")


def test_values_are_sent_as_raptor_reads_them():
    assert parameter_text(Decimal("10.50")) == "10.50"
    assert parameter_text(True) == "true"
    assert parameter_text(["a", 2]) == "a,2"
    assert parameter_text(None) == ""
