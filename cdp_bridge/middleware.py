"""The middleware's public path, as sites name it in ``MIDDLEWARE``."""

from cdp_bridge.personalisation.middleware import SegmentsMiddleware

__all__ = ["SegmentsMiddleware"]
