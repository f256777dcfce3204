"""The exceptions cdp_bridge raises: one root, each also a subclass of Django's own."""

from django.core.exceptions import ImproperlyConfigured, PermissionDenied


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
