"""The kinds of things the configuration names: one list each, imported by every part that needs it.

This module imports nothing of cdp_bridge, so that any part can import it without a cycle.
"""

# What can be exported, each by its own command (``stream_<kind>_data``) to its own stream.
EXPORT_KINDS = ("user", "content", "product")
# The export's extension points, Ibexa's three service tags.
PROCESSOR_KINDS = ("user_item", "field", "field_value")
