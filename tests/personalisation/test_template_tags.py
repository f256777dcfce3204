"""Segment-aware templates: the in_segment filter and the targeting block."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, TemplateSyntaxError, engines
from django.test import RequestFactory

from cdp_bridge import segmentation

pytestmark = pytest.mark.django_db

TARGETING = """{% load cdp %}{% cdp_targeting %}
  {% variation "cat-owners" "dog-owners" %}pets
  {% variation "lapsed-buyers" %}come back
  {% fallback %}everyone
{% endcdp_targeting %}"""


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def segments():
    group = segmentation.create_segment_group("audiences", "Audiences")
    return {
        identifier: segmentation.create_segment(group, identifier)
        for identifier in ("cat-owners", "dog-owners", "lapsed-buyers")
    }


@pytest.fixture
def member(segments):
    """A user who is a lapsed buyer and owns a dog."""
    user = User.objects.create_user("member", password="pw")
    segmentation.assign_users_to_segment(segments["lapsed-buyers"], [user])
    segmentation.assign_users_to_segment(segments["dog-owners"], [user])
    return User.objects.get(pk=user.pk)  # a fresh object, without cached segments


def render(source, **context):
    request = RequestFactory().get("/")
    request.user = context.pop("user", AnonymousUser())
    return engines["django"].from_string(source).render(context, request=request).strip()


def test_the_filter_is_true_for_the_segments_a_user_is_in(member):
    template = '{% load cdp %}{{ user|in_segment:"dog-owners" }} {{ user|in_segment:"cat-owners" }}'
    assert render(template, user=member) == "True False"


def test_the_filter_is_simply_false_for_a_segment_that_does_not_exist(member):
    template = '{% load cdp %}{{ user|in_segment:"no-such-segment" }} {{ nobody|in_segment:"x" }}'
    assert render(template, user=member) == "False False"


def test_the_filter_takes_a_segment_object_as_well_as_an_identifier(member, segments):
    template = "{% load cdp %}{{ user|in_segment:segment }}"
    assert render(template, user=member, segment=segments["lapsed-buyers"]) == "True"


def test_an_anonymous_user_is_in_no_segment_of_the_database(segments):
    assert render('{% load cdp %}{{ user|in_segment:"cat-owners" }}') == "False"


def test_the_first_variation_the_visitor_is_in_wins(member):
    # The member is in "dog-owners" (first variation) and "lapsed-buyers" (second).
    assert render(TARGETING, user=member) == "pets"


def test_a_variation_matches_when_the_visitor_is_in_any_of_its_segments(segments):
    user = User.objects.create_user("lapsed")
    segmentation.assign_users_to_segment(segments["lapsed-buyers"], [user])
    assert render(TARGETING, user=user) == "come back"


def test_the_fallback_is_shown_when_no_variation_matches(segments):
    assert render(TARGETING, user=User.objects.create_user("new")) == "everyone"
    assert render(TARGETING) == "everyone"


def test_without_a_fallback_nothing_is_shown_when_no_variation_matches(segments):
    source = (
        '{% load cdp %}[{% cdp_targeting %}{% variation "cat-owners" %}cats{% endcdp_targeting %}]'
    )
    assert render(source) == "[]"


def test_variations_take_segments_from_variables_and_lists(member):
    source = (
        "{% load cdp %}{% cdp_targeting %}{% variation wanted %}yes{% fallback %}no"
        "{% endcdp_targeting %}"
    )
    assert render(source, user=member, wanted=["cat-owners", "dog-owners"]) == "yes"
    assert render(source, user=member, wanted="cat-owners") == "no"
    assert render(source, user=member, wanted=None) == "no"
    segments_of_the_group = member.cdp_segments.all()  # a QuerySet of Segment objects
    assert render(source, user=member, wanted=segments_of_the_group) == "yes"


def test_targeting_can_be_for_another_user_than_the_visitor(member):
    source = (
        '{% load cdp %}{% cdp_targeting for customer %}{% variation "dog-owners" %}dogs'
        "{% fallback %}other{% endcdp_targeting %}"
    )
    assert render(source, customer=member) == "dogs"


def test_targeting_without_the_request_in_the_context_says_what_to_add(segments):
    template = engines["django"].from_string(TARGETING)
    with pytest.raises(ImproperlyConfigured, match=r"context_processors\.request"):
        template.template.render(Context({}))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% cdp_targeting the visitor %}{% variation 'a' %}{% endcdp_targeting %}", "'for <user"),
        ("{% cdp_targeting %}{% variation %}a{% endcdp_targeting %}", "one or more segment"),
        ("{% cdp_targeting %}{% fallback %}a{% endcdp_targeting %}", "at least one"),
        ("{% cdp_targeting %}hello{% variation 'a' %}{% endcdp_targeting %}", "only {% variation"),
        (
            "{% cdp_targeting %}{% variation 'a' %}{% fallback %}{% variation 'b' %}"
            "{% endcdp_targeting %}",
            "comes last",
        ),
        (
            "{% cdp_targeting %}{% variation 'a' %}{% fallback %}{% fallback %}"
            "{% endcdp_targeting %}",
            "one {% fallback %}",
        ),
        (
            "{% cdp_targeting %}{% variation 'a' %}{% fallback 'b' %}{% endcdp_targeting %}",
            "no arg",
        ),
        ("{% cdp_targeting %}{% variation 'a' %}a", "endcdp_targeting"),
    ],
)
def test_a_malformed_targeting_block_is_a_syntax_error_naming_the_tag(source, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        engines["django"].from_string("{% load cdp %}" + source)
