"""The exceptions cdp_bridge raises: one root, each also a subclass of Django's own."""

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError

from cdp_bridge.translation import in_english

# Errors meaning "the database cannot be reached": the work is left as it was, to be retried.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class CdpBridgeError(Exception):
    """Root of every error cdp_bridge raises on purpose."""


class ConfigurationError(CdpBridgeError, ImproperlyConfigured):
    """The CDP_BRIDGE configuration is invalid; the message names the key path."""


class UnknownScope(ConfigurationError):
    """A scope name that the configuration does not define."""


class SegmentGroupLocked(CdpBridgeError, PermissionDenied):
    """A change to a segment group that a CDP activation has connected to."""


class TrackingEventError(CdpBridgeError, ValueError):
    """A tracking event type that Raptor does not know, or a value the event does not carry."""


class WebhookRejected(CdpBridgeError, SuspiciousOperation):
    """A webhook request refused for what it sent, with a stable error ``code`` and a reason.

    Each subclass is one kind of refusal; the view answers each with its own 4xx status.
    ``details`` lists each problem as ``{"path": <JSON pointer>, "message": ...}``. The
    messages may be lazy (``gettext_lazy``): the answer gives them in the request's language,
    the stored delivery and the log in English.
    """

    code: ClassVar[str]

    def __init__(
        self,
        message: object,
        details: list[dict[str, Any]] | None = None,
        *,
        english_details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        # Details that are text already (DRF's field errors are translated as they are raised)
        # come with their English reading, for the stored delivery.
        self.english_details = english_details

    def as_result(self) -> dict[str, object]:
        """What a stored delivery keeps of the refusal (its ``result``), in English."""
        details = [
            {key: in_english(value) for key, value in detail.items()}
            for detail in (self.details if self.english_details is None else self.english_details)
        ]
        return {"code": self.code, "details": details}


class InvalidJson(WebhookRejected):
    """The body is not JSON: not UTF-8, not valid gzip, or not well-formed."""

    code = "invalid_json"


class InvalidPayload(WebhookRejected):
    """The JSON is not a valid delivery; ``details`` says where and why."""

    code = "invalid_payload"


class UnreadableBody(WebhookRejected):
    """The body could not be read whole: malformed chunks, or the connection ended before it."""

    code = "invalid_body"


class LengthRequired(WebhookRejected):
    """A chunked body that the web server hands on undecoded, so it cannot be read."""

    code = "length_required"


class PayloadTooLarge(WebhookRejected):
    """The body, compressed or decompressed, is larger than ``webhook.max_body_bytes``."""

    code = "payload_too_large"


class UnsupportedMediaType(WebhookRejected):
    """The body is not ``application/json``, or is encoded with anything but gzip."""

    code = "unsupported_media_type"


class SegmentGroupMismatch(WebhookRejected):
    """The delivery names another segment group than the authenticated activation's."""

    code = "segment_group_mismatch"


class SegmentGroupNotFound(WebhookRejected):
    """The activation's segment group has not been created on the site yet."""

    code = "segment_group_not_found"


class ExportError(CdpBridgeError):
    """An export could not run or stopped; the message says what to do. ``run`` is its record."""

    def __init__(self, message: str, *, run: object = None) -> None:
        super().__init__(message)
        self.run = run


class CdpUnavailable(ExportError):
    """The CDP could not be reached, or kept failing transiently, after every retry."""


class BatchRejected(ExportError):
    """The CDP answered a batch with a status that retrying cannot fix (400, 401, 403, 404 ...)."""
