"""The exceptions cdp_bridge raises: one root, each also a subclass of Django's own."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, SuspiciousOperation


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
    """A webhook request that is refused with a 4xx status, a stable error code and a reason.

    ``details`` lists each problem as ``{"path": <JSON pointer>, "message": ...}``.
    """

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def as_result(self) -> dict[str, object]:
        """What a stored delivery keeps of the refusal (its ``result``)."""
        return {"status": self.status, "code": self.code, "details": self.details}


class ExportError(CdpBridgeError):
    """An export could not run or stopped; the message says what to do. ``run`` is its record."""

    def __init__(self, message: str, *, run: object = None) -> None:
        super().__init__(message)
        self.run = run


class CdpUnavailable(ExportError):
    """The CDP could not be reached, or kept failing transiently, after every retry."""


class BatchRejected(ExportError):
    """The CDP answered a batch with a status that retrying cannot fix (400, 401, 403, 404 ...)."""
