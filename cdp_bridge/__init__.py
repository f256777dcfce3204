"""Connect a Django site to a Customer Data Platform (Raptor's CDP, sold as Ibexa CDP)."""

__version__ = "0.1.0"
