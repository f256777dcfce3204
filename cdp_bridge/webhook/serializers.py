"""Validation of what the CDP sends, with DRF serializers: a delivery, and a token request.

Every problem is reported, each with a JSON pointer to where it is (``/audiences/2/added/5``).
Where the contract says string, only a JSON string is accepted: ``5`` is not the identifier
``"5"``; where it says integer, only a JSON integer: neither ``"17"`` nor ``17.0`` is ``17``.
Members are strings or integers, checked by one field that walks the list once, because a
snapshot can name a million people and a serializer field per identifier would take seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from cdp_bridge.conf.schema import frozen_mapping
from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.field_types import MAX_BIGINT
from cdp_bridge.translation import english, interpolate_lazy, speaking_english
from cdp_bridge.webhook.body import pointer_token
from cdp_bridge.webhook.payload import METADATA_FIELDS, Audience, Delivery, SnapshotRef

MAX_IDENTIFIER_LENGTH = 255
MAX_SNAPSHOT_PARTS = 10_000
# Past this many bad members in one list, the rest are summed up in one line.
MAX_MEMBER_ERRORS = 20


class Text(serializers.CharField):
    """A JSON string, and nothing that DRF would turn into one (a number, a boolean)."""

    default_error_messages = {"not_a_string": gettext_lazy("Expected a string, not {kind}.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string", kind=_kind(data))
        return super().to_internal_value(data)


class Integer(serializers.IntegerField):
    """A JSON integer, and nothing that DRF would turn into one (text, a decimal, a boolean)."""

    default_error_messages = {"not_an_integer": gettext_lazy("Expected an integer, not {kind}.")}

    def to_internal_value(self, data: Any) -> int:
        if type(data) is not int:  # bool is a subclass of int, and no integer here
            self.fail("not_an_integer", kind=_kind(data))
        return super().to_internal_value(data)


class Identifier(Text):
    """An audience, snapshot or group identifier: a string, kept exactly as sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_IDENTIFIER_LENGTH, trim_whitespace=False, **kwargs)


class PersonIdentifierList(serializers.Field):  # type: ignore[type-arg]
    """A list of person identifiers, each a string or an integer."""

    default_error_messages = {
        "not_a_list": gettext_lazy("Expected a list of person identifiers, not {kind}."),
        "bad_member": gettext_lazy(
            "A person identifier must be a string or an integer, not {kind}."
        ),
        "too_long": gettext_lazy("A person identifier is at most {max_length} characters."),
    }

    def to_internal_value(self, data: Any) -> tuple[str | int, ...]:
        if not isinstance(data, list):
            self.fail("not_a_list", kind=_kind(data))
        errors: dict[str, list[str]] = {}
        bad = 0
        for index, item in enumerate(data):
            kind = type(item)
            if kind is str:
                if len(item) <= MAX_IDENTIFIER_LENGTH:
                    continue
                message = str(self.error_messages["too_long"]).format(
                    max_length=MAX_IDENTIFIER_LENGTH
                )
            elif kind is int:
                continue
            else:
                message = str(self.error_messages["bad_member"]).format(kind=_kind(item))
            bad += 1
            if bad <= MAX_MEMBER_ERRORS:
                errors[str(index)] = [message]
        if bad > MAX_MEMBER_ERRORS:
            more = bad - MAX_MEMBER_ERRORS
            errors["*"] = [
                ngettext(
                    "%(count)d more bad person identifier.",
                    "%(count)d more bad person identifiers.",
                    more,
                )
                % {"count": more}
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return tuple(data)

    def to_representation(self, value: Any) -> Any:
        return list(value)


class SnapshotSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One part of a full membership sent in several requests, which share the snapshot's id.

    Nothing changes until every part has arrived; parts left incomplete for 24 hours are
    dropped.
    """

    id = Identifier()
    part = Integer(min_value=1, max_value=MAX_SNAPSHOT_PARTS)
    parts = Integer(min_value=1, max_value=MAX_SNAPSHOT_PARTS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["part"] > attrs["parts"]:
            raise serializers.ValidationError(
                {
                    "part": [
                        _("Part %(part)d of %(parts)d parts does not exist.")
                        % {"part": attrs["part"], "parts": attrs["parts"]}
                    ]
                }
            )
        return attrs


class AudienceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """An audience: the segment it becomes, its metadata, and how its membership changes.

    A metadata key left out leaves the segment's value as it is.
    """

    id = Identifier(help_text="The identifier of the segment the audience becomes.")
    sync = serializers.ChoiceField(
        choices=["full", "delta"],
        help_text="full: members is the whole membership; delta: added and removed change it.",
    )
    name = Text(max_length=255, allow_blank=True, required=False)
    description = Text(allow_blank=True, required=False, trim_whitespace=False)
    tags = serializers.ListField(child=Text(max_length=255), required=False)
    profile_count = Integer(min_value=0, max_value=MAX_BIGINT, allow_null=True, required=False)
    updated_at = serializers.DateTimeField(allow_null=True, required=False)
    sequence = Integer(
        min_value=0,
        max_value=MAX_BIGINT,
        allow_null=True,
        required=False,
        help_text="An audience whose sequence is not greater than the one applied is ignored "
        "(stale), so late or repeated deliveries never roll a segment back.",
    )
    members = PersonIdentifierList(required=False)
    added = PersonIdentifierList(required=False)
    removed = PersonIdentifierList(required=False)
    snapshot = SnapshotSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if attrs["sync"] == "full":
            if "members" not in attrs:
                errors["members"] = [_("A full audience lists its members.")]
            for key in ("added", "removed"):
                if key in attrs:
                    errors[key] = [
                        _("A full audience has members, not %(key)s; use sync: delta.")
                        % {"key": key}
                    ]
        else:
            for key in ("members", "snapshot"):
                if key in attrs:
                    errors[key] = [
                        _("A delta audience has added and removed, not %(key)s.") % {"key": key}
                    ]
            in_both = _normalised(attrs.get("added", ())) & _normalised(attrs.get("removed", ()))
            if in_both:
                errors["removed"] = {
                    index: [_("Also in added: a delta cannot both add and remove one person.")]
                    for index, member in enumerate(attrs["removed"])
                    if str(member) in in_both
                }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class DeliverySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A delivery: audiences to write into one segment group, audiences to remove. Unknown keys
    are ignored. Strings are JSON strings and integers JSON integers: neither "17" nor 17.0 is
    the integer 17."""

    segment_group_identifier = Identifier(
        help_text="Must be the segment group of the authenticated activation."
    )
    audiences = AudienceSerializer(many=True, required=False)
    removed_audiences = serializers.ListField(
        child=Identifier(),
        required=False,
        help_text="Audiences whose segments (and memberships) are deleted.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for index, audience in enumerate(attrs.get("audiences", ())):
            if audience["id"] in seen:
                errors.setdefault("audiences", {})[index] = {
                    "id": [
                        _("Audience %(audience)s also is at index %(index)d.")
                        % {"audience": repr(audience["id"]), "index": seen[audience["id"]]}
                    ]
                }
            seen.setdefault(audience["id"], index)
        for index, identifier in enumerate(attrs.get("removed_audiences", ())):
            if identifier in seen:
                errors.setdefault("removed_audiences", {})[index] = [
                    _("Audience %(audience)s is both updated and removed.")
                    % {"audience": repr(identifier)}
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TokenRequest(serializers.Serializer):  # type: ignore[type-arg]
    """The form of a token request (RFC 6749 §4.4.2).

    The client authenticates with ``client_id`` and ``client_secret``, or with HTTP Basic
    instead: one way, not both.
    """

    grant_type = serializers.ChoiceField(choices=["client_credentials"])
    client_id = serializers.CharField(required=False, allow_blank=True)
    client_secret = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


def validate_delivery(document: Any) -> Delivery:
    """The Delivery in a parsed JSON document; InvalidPayload listing every problem."""
    serializer = DeliverySerializer(data=document)
    if not serializer.is_valid():
        details = list(error_details(serializer.errors))
        english_details = details
        if not speaking_english():
            # The answer gives the problems in the request's language, the stored delivery
            # in English: DRF translates field errors as it raises them, so read them again.
            with english():
                reread = DeliverySerializer(data=document)
                reread.is_valid()
                english_details = list(error_details(reread.errors))
        count = len(details)
        raise InvalidPayload(
            interpolate_lazy(
                ngettext_lazy(
                    "The delivery has %(count)d problem.",
                    "The delivery has %(count)d problems.",
                    count,
                ),
                {"count": count},
            ),
            details,
            english_details=english_details,
        )
    data = serializer.validated_data
    return Delivery(
        segment_group_identifier=data["segment_group_identifier"],
        audiences=tuple(_audience(item) for item in data.get("audiences", ())),
        removed_audiences=tuple(data.get("removed_audiences", ())),
    )


def error_details(errors: Any, path: str = "") -> Iterator[dict[str, str]]:
    """Flatten DRF's nested errors into ``{"path", "message"}`` items with JSON pointers."""
    if isinstance(errors, ErrorDetail | str):
        yield {"path": path, "message": str(errors)}
    elif isinstance(errors, Mapping):
        for key, value in errors.items():
            child = (
                path if key in ("non_field_errors", "*") else f"{path}/{pointer_token(str(key))}"
            )
            yield from error_details(value, child)
    elif isinstance(errors, list):
        if all(isinstance(item, ErrorDetail | str) for item in errors):
            for item in errors:
                yield {"path": path, "message": str(item)}
        else:  # a ``many=True`` serializer: one entry per item, empty when it is valid
            for index, item in enumerate(errors):
                yield from error_details(item, f"{path}/{index}")


def _audience(data: Mapping[str, Any]) -> Audience:
    snapshot = data.get("snapshot")
    return Audience(
        id=data["id"],
        sync=data["sync"],
        members=data.get("members", ()),
        added=data.get("added", ()),
        removed=data.get("removed", ()),
        sequence=data.get("sequence"),
        snapshot=SnapshotRef(**snapshot) if snapshot else None,
        metadata=frozen_mapping({key: data[key] for key in METADATA_FIELDS if key in data}),
    )


def _normalised(members: tuple[str | int, ...]) -> set[str]:
    return {str(member) for member in members}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a decimal number",
        dict: "an object",
        list: "a list",
    }.get(type(value), type(value).__name__)
