"""The JSON bodies the webhook answers with, as DRF serializers.

The views render every answer through these, and ``docs/webhook-openapi.json`` is generated
from them, so the document describes exactly what is sent.
"""

from __future__ import annotations

from rest_framework import serializers

from cdp_bridge.models import WebhookDelivery

ISO_8601 = "iso-8601"


class AudienceResultAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """What became of one audience."""

    id = serializers.CharField()
    segment = serializers.IntegerField(
        allow_null=True,
        help_text="The segment's primary key on the site; null for a snapshot part kept "
        "until the other parts arrive.",
    )
    status = serializers.ChoiceField(
        choices=["applied", "stale", "pending"],
        help_text="stale: the sequence was not greater than the one applied, nothing changed; "
        "pending: a snapshot part, kept until every part has arrived.",
    )
    added = serializers.IntegerField(min_value=0)
    removed = serializers.IntegerField(min_value=0)
    unknown_members = serializers.IntegerField(
        min_value=0, help_text="Person identifiers that match no user, skipped."
    )


class RemovedAudienceAnswer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["removed", "not_found"])


class AppliedAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """200: the delivery was applied."""

    status = serializers.ChoiceField(choices=["applied"])
    delivery_id = serializers.CharField(
        help_text="The X-CDP-Delivery-Id sent, or sha256:<hash of the body> without one."
    )
    audiences = AudienceResultAnswer(many=True)
    removed_audiences = RemovedAudienceAnswer(many=True)


class DuplicateAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """200: the delivery repeats one already received, and changed nothing."""

    status = serializers.ChoiceField(choices=["duplicate"])
    delivery_id = serializers.CharField(help_text="The delivery it repeats.")
    original_status = serializers.ChoiceField(
        choices=[WebhookDelivery.Status.QUEUED.value, WebhookDelivery.Status.APPLIED.value]
    )
    received_at = serializers.DateTimeField(format=ISO_8601)


class AcceptedAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """202: the delivery is stored and queued."""

    status = serializers.ChoiceField(choices=["accepted"])
    delivery_id = serializers.CharField()


class ProblemAnswer(serializers.Serializer):  # type: ignore[type-arg]
    path = serializers.CharField(
        allow_blank=True, help_text="A JSON pointer into the body (empty: the whole body)."
    )
    message = serializers.CharField()


class ErrorDetailAnswer(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    message = serializers.CharField()
    details = ProblemAnswer(
        many=True, required=False, help_text="Each problem of an invalid_payload, with its path."
    )


class ErrorAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """Any refusal or failure of the webhook."""

    error = ErrorDetailAnswer()


class TokenAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """A bearer token (RFC 6749 §5.1)."""

    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds the token is valid for.")


class TokenErrorAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """A refused token request (RFC 6749 §5.2)."""

    error = serializers.CharField()
    error_description = serializers.CharField()
