"""The person identifier: one user field per scope, read by the export, tracking and webhook."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.db import models

from cdp_bridge import conf
from cdp_bridge.identity import Identifiers, PersonIdentifier, person_identifier

from .conftest import GOOD_SECRET


def person(field_name=None):
    return PersonIdentifier.named(field_name)


def test_the_primary_key_is_the_default_and_takes_integers_from_strings_or_numbers(db):
    identifier = person()
    assert (identifier.field.name, identifier.kind) == ("id", "integer")
    assert identifier.convert(["10", 10, "11", 2**63 - 1]) == Identifiers(
        frozenset({10, 11, 2**63 - 1}), 0
    )


@pytest.mark.parametrize("member", ["abc", "1_000", " 10", "+10", "١٢", "", "-", 2**63, "1.5"])
def test_what_cannot_be_an_integer_matches_no_one_and_is_counted(db, member):
    assert person().convert([member, "7"]) == Identifiers(frozenset({7}), 1)


def test_negative_integers_are_integers(db):
    assert person().convert(["-3"]).values == {-3}


def test_text_fields_take_text_and_numbers_as_text(db):
    identifier = person("username")
    assert identifier.kind == "text"
    assert identifier.convert(["alice", 42, "a\x00b"]) == Identifiers(frozenset({"alice", "42"}), 1)


def test_uuid_fields_take_uuids():
    identifier = PersonIdentifier(models.UUIDField(), "uuid")
    value = uuid.uuid4()
    assert identifier.convert([str(value), "not-a-uuid"]) == Identifiers(frozenset({value}), 1)


def test_a_users_identifier_is_a_number_for_an_integer_field_and_text_otherwise(db):
    ada = User.objects.create_user("ada")
    assert person().of(ada) == ada.pk
    assert person("username").of(ada) == "ada"


@pytest.mark.parametrize("field_name", [None, "username"])
def test_a_scope_has_the_identifier_of_its_activations(cdp_config, db, field_name):
    activation = {
        "client_id": "raptor",
        "client_secret": GOOD_SECRET,
        "segment_group_identifier": "cdp",
        "person_identifier_field": field_name,
    }
    cdp_config({"system": {"default": {"cdp": {"activations": [activation]}}}})
    scope = conf.get_scope()
    ada = User.objects.create_user("ada")
    assert PersonIdentifier.for_scope(scope) == person(field_name)
    assert person_identifier(ada, scope) == ("ada" if field_name else str(ada.pk))


def test_a_scope_without_activations_identifies_people_by_primary_key(cdp_config, db):
    cdp_config({})
    ada = User.objects.create_user("ada")
    assert person_identifier(ada, conf.get_scope()) == str(ada.pk)
