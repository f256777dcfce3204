"""Person identifiers converted to the type of the user field that holds them."""

import uuid

import pytest
from django.db import models

from cdp_bridge.conf import Activation
from cdp_bridge.webhook.identifiers import Identifiers, PersonField


def person_field(field_name=None):
    return PersonField.of(Activation("c", ("s",), "g", person_identifier_field=field_name))


def test_the_primary_key_is_the_default_and_takes_integers_from_strings_or_numbers(db):
    field = person_field()
    assert (field.field.name, field.kind) == ("id", "integer")
    assert field.convert(["10", 10, "11", 2**63 - 1]) == Identifiers(
        frozenset({10, 11, 2**63 - 1}), 0
    )


@pytest.mark.parametrize("member", ["abc", "1_000", " 10", "+10", "١٢", "", "-", 2**63, "1.5"])
def test_what_cannot_be_an_integer_matches_no_one_and_is_counted(db, member):
    assert person_field().convert([member, "7"]) == Identifiers(frozenset({7}), 1)


def test_negative_integers_are_integers(db):
    assert person_field().convert(["-3"]).values == {-3}


def test_text_fields_take_text_and_numbers_as_text(db):
    field = person_field("username")
    assert field.kind == "text"
    assert field.convert(["alice", 42, "a\x00b"]) == Identifiers(frozenset({"alice", "42"}), 1)


def test_uuid_fields_take_uuids():
    uuid_field = PersonField(models.UUIDField(), "uuid")
    value = uuid.uuid4()
    assert uuid_field.convert([str(value), "not-a-uuid"]) == Identifiers(frozenset({value}), 1)
