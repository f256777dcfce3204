"""A visitor's segments: read once per request, and a cache key that is the same everywhere."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User

from cdp_bridge import segmentation
from cdp_bridge.personalisation import VisitorSegments, segments_of

CACHE_KEY_IN_A_NEW_PROCESS = """
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="another-site-another-key",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "cdp_bridge"],
)
django.setup()
from cdp_bridge.personalisation import VisitorSegments
print(VisitorSegments(frozenset({"lapsed-buyers", "cat-owners"})).cache_key)
"""


@pytest.fixture
def member(db):
    """A user who is a lapsed buyer and owns a dog."""
    group = segmentation.create_segment_group("audiences", "Audiences")
    user = User.objects.create_user("member", password="pw")
    for identifier in ("lapsed-buyers", "dog-owners"):
        segmentation.assign_users_to_segment(segmentation.create_segment(group, identifier), [user])
    return User.objects.get(pk=user.pk)  # a fresh object, without cached segments


def test_a_page_reads_a_users_segments_once_however_often_it_asks(
    client, member, django_assert_num_queries
):
    client.force_login(member)
    client.get("/plain/")  # the session and user cost the same on every page
    with django_assert_num_queries(2):  # session, user
        client.get("/plain/")
    with django_assert_num_queries(3):  # session, user, segments: once for seven questions
        response = client.get("/personalised/")
    content = response.content.decode()
    assert "view: False" in content
    assert "filter: False False True False" in content
    assert "banner: dogs" in content


def test_outside_a_request_a_users_segments_come_from_segments_of(
    member, django_assert_num_queries
):
    with django_assert_num_queries(1):
        segments = segments_of(member)
        assert list(segments) == ["dog-owners", "lapsed-buyers"]  # sorted
        assert "dog-owners" in segments_of(member)  # kept on the user object: no second query


def test_segments_have_a_cache_key_that_ignores_order():
    one = VisitorSegments(frozenset({"cat-owners", "lapsed-buyers"}))
    same = VisitorSegments(frozenset(["lapsed-buyers", "cat-owners"]))
    other = VisitorSegments(frozenset({"cat-owners"}))
    assert one.cache_key == same.cache_key
    assert len({one.cache_key, other.cache_key, VisitorSegments().cache_key}) == 3


def test_the_cache_key_is_the_same_in_another_process():
    # Another process has another string hash seed and may have another SECRET_KEY: the key
    # must depend on neither, or every process of a site would cache its own copies.
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment["PYTHONHASHSEED"] = "12345"
    other = subprocess.run(
        [sys.executable, "-c", CACHE_KEY_IN_A_NEW_PROCESS],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    here = VisitorSegments(frozenset({"cat-owners", "lapsed-buyers"})).cache_key
    assert other.stdout.strip() == here


def test_segments_of_anything_else_than_a_user_or_a_request_are_none():
    assert len(segments_of("cat-owners")) == 0
    assert "cat-owners" not in segments_of(None)
