"""Connect a Django site to a Customer Data Platform (Raptor's CDP, sold as Ibexa CDP)."""

__version__ = "0.1.0"

# How cdp_bridge names itself in every request it sends (the CDP, its APIs, tracking).
USER_AGENT = f"cdp-bridge/{__version__}"
