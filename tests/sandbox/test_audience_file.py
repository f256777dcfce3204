"""The audience file: its conditions, and every mistake named with the file and line."""

import os
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from cdp_bridge.sandbox.audience_file import AudienceFileInvalid, read_audience_file
from cdp_bridge.sandbox.audiences import AudienceSource, Profile, matches

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOOD = """\
audiences:
  - id: laptop-shoppers
    name: Laptop shoppers
    any:
      - have: favourite_product_type
        equals: laptop
      - did: visit
        category: Laptops
        at_least: 2
        within_days: 30
"""


def write(tmp_path, text, name="audiences.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(AudienceFileInvalid) as raised:
        read_audience_file(path)
    return [str(problem).removeprefix(f"{path}, ") for problem in raised.value.problems]


def test_a_yaml_error_names_the_file_and_line(tmp_path):
    assert problems(tmp_path, "audiences:\n  - id: a\n    all: [\n") == [
        "line 4: not valid YAML: expected the node content, but found '<stream end>'"
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("- did: browse", "line 4: audience 'a': unknown event type 'browse'; the tracked events"),
        (
            "- have: age\n        greater: 40\n        less: 30",
            "line 4: audience 'a': 'have: age' is impossible: greater than 40 and less than 30.",
        ),
        (
            "- have: born\n        after: 2000-01-01\n        before: 1990-01-01",
            "line 4: audience 'a': 'have: born' is impossible: after 2000-01-01 and before 1990",
        ),
        ("- have: country\n        in: []", "line 5: audience 'a': in an empty list"),
        ("- have: age\n        greater: forty", "line 5: audience 'a': greater needs a number"),
        ("- have: born\n        before: someday", "line 5: audience 'a': before needs a date"),
        ("- did: buy\n        at_least: 0", "line 5: audience 'a': 'at_least' must be a whole"),
        ("- have: age\n        bigger: 3", "line 5: unknown key 'bigger' in audience 'a'"),
        ("- have: age", "line 4: audience 'a': 'have: age' needs one of equals, in"),
        ("- did: buy\n        have: age", "line 4: audience 'a': a condition starts with one of"),
    ],
)
def test_a_wrong_condition_names_the_line_and_what_is_wrong(tmp_path, condition, expected):
    text = f"audiences:\n  - id: a\n    all:\n      {condition}\n"
    found = problems(tmp_path, text)
    assert any(problem.startswith(expected) for problem in found), found


def test_activations_and_the_file_itself_are_checked_too(tmp_path):
    text = """\
    audiences:
      - id: a
        all: [{did: buy}]
      - id: a
        all: [{did: buy}]
    activations:
      - name: site
        client_id: c
        base_url: ftp://site
        segment_group_identifier: g
        audiences: [a, b]
        authentication: digest
    colour: blue
    """
    assert problems(tmp_path, text) == [
        "line 4: two audiences have the id 'a'.",
        "line 7: activation 'site' needs 'client_secret'.",
        "line 9: activation 'site': base_url must be the site's webhook URL "
        "(https://site/cdp/webhook), not 'ftp://site'.",
        "line 11: activation 'site': no audience has the id 'b'.",
        "line 12: activation 'site': authentication is basic or oauth2, not 'digest'.",
        "line 13: unknown key 'colour' in the file; use audiences, activations, membership.",
    ]


def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_SECRET", "from-the-environment")
    text = """\
    audiences: [{id: a, all: [{did: buy}]}]
    activations:
      - {name: s, client_id: c, client_secret: '%env(SANDBOX_SECRET)%', base_url: 'http://x/cdp/webhook',
         segment_group_identifier: g, audiences: [a]}
    """
    [activation] = read_audience_file(write(tmp_path, text)).activations
    assert activation.client_secret == "from-the-environment"
    monkeypatch.delenv("SANDBOX_SECRET")
    [problem] = problems(tmp_path, text)
    assert problem.startswith("line 3: activation 's': 'client_secret': the environment variable")


def test_an_unknown_column_is_named_once_person_data_has_arrived(tmp_path):
    audience_file = read_audience_file(write(tmp_path, GOOD))
    assert audience_file.column_problems(set()) == []  # nothing to check against yet
    [problem] = audience_file.column_problems({"id", "login"})
    assert str(problem) == (
        f"{tmp_path / 'audiences.yaml'}, line 5: audience 'laptop-shoppers': unknown column "
        "'favourite_product_type'; the person data received has id, login."
    )


def test_a_broken_file_keeps_the_last_good_audiences_until_it_is_fixed(tmp_path):
    path = write(tmp_path, GOOD)
    source = AudienceSource(path)
    assert [a.id for a in source.get().audiences] == ["laptop-shoppers"]
    path.write_text(GOOD.replace("did: visit", "did: browse"))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert [a.id for a in source.get().audiences] == ["laptop-shoppers"]
    [problem] = source.problems
    assert (problem.line, "unknown event type 'browse'" in problem.message) == (7, True)
    path.write_text(GOOD.replace("laptop-shoppers", "laptop-fans"))
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert [a.id for a in source.get().audiences] == ["laptop-fans"]
    assert source.problems == ()


def event(event_type, days_ago=0, **params):
    received = (NOW - timedelta(days=days_ago)).timestamp()
    return {"event_type": event_type, "received": received, "params": params}


@pytest.mark.parametrize(
    ("comparison", "columns", "expected"),
    [
        ({"equals": "laptop"}, {"x": "laptop"}, True),
        ({"equals": "laptop"}, {"x": "phone"}, False),
        ({"equals": True}, {"x": 1}, False),  # a boolean is not a number
        ({"in": ["NO", "SE"]}, {"x": "SE"}, True),
        ({"contains": "EXAMPLE"}, {"x": "ada@example.com"}, True),
        ({"greater": 2}, {"x": 3}, True),
        ({"greater": 2, "less": 3}, {"x": 3}, False),
        ({"less": 2}, {"x": "1"}, False),  # text is not a number
        ({"before": "1970-01-01"}, {"x": "1964-11-17"}, True),
        ({"after": "90 days ago"}, {"x": "2026-11-01T10:00:00Z"}, True),
        ({"after": "90 days ago"}, {"x": "2026-01-01"}, False),
        ({"equals": "x"}, {}, False),  # a person without the column
    ],
)
def test_have_compares_a_column_with_a_value(tmp_path, comparison, columns, expected):
    lines = "".join(f"\n        {key}: {value!r}" for key, value in comparison.items())
    audience_file = read_audience_file(
        write(tmp_path, f"audiences:\n  - id: a\n    all:\n      - have: x{lines}\n")
    )
    profile = Profile("1", columns)
    assert matches(audience_file.audiences[0].condition, profile, NOW) is expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([event("visit", 1, p4="1#Laptops"), event("visit", 29, p4="2#Shop;7#laptops")], True),
        ([event("visit", 1, p4="1#Laptops")], False),  # once is not twice
        ([event("visit", 1, p4="1#Laptops"), event("visit", 31, p4="1#Laptops")], False),
        ([event("visit", 1, p4="1#Phones"), event("visit", 2, p4="1#Phones")], False),
        ([event("basket", 1, p4="1#Laptops"), event("visit", 2, p4="1#Laptops")], False),
    ],
)
def test_did_counts_events_of_a_type_for_a_category_within_days(tmp_path, events, expected):
    audience = read_audience_file(write(tmp_path, GOOD)).audiences[0]
    assert matches(audience.condition, Profile("1", {}, events), NOW) is expected


def test_did_not_and_a_product_and_all(tmp_path):
    text = """\
    audiences:
      - id: lapsed
        all:
          - did: buy
            product: LAP-1
          - did not: buy
            within_days: 90
    """
    audience = read_audience_file(write(tmp_path, text)).audiences[0]
    old, recent = event("buy", 200, p2="LAP-1"), event("buy", 10, p2="PHO-1")
    assert matches(audience.condition, Profile("1", {}, [old]), NOW)
    assert not matches(audience.condition, Profile("1", {}, [old, recent]), NOW)
    assert not matches(audience.condition, Profile("1", {}, []), NOW)
