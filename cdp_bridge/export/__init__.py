"""Export: stream a site's users, products and content to the CDP's Streaming API.

The data flows sources → rows (with the processors) → batches → a transport, and every run is
recorded as an ExportRun:

* ``sources``: which records, read in primary key order a chunk at a time;
* ``processors`` and ``field_values``: the extension points and the built-in processors;
* ``rows``: a record as one flat row of scalars, in Ibexa's layout;
* ``batches``: rows as JSON bodies within the size limits;
* ``transports``: the Streaming API, files, or an in-memory outbox;
* ``plan`` and ``runner``: one run, from its options to its record;
* ``report``: what a command shows while it runs.

What a site needs to extend the export is importable from here:
``from cdp_bridge.export import BaseUserItemProcessor, user_item_processor``.
"""

from cdp_bridge.export.field_values import json_hash
from cdp_bridge.export.processors import (
    BaseUserItemProcessor,
    field_processor,
    field_value_processor,
    skip,
    user_item_processor,
)

__all__ = [
    "BaseUserItemProcessor",
    "field_processor",
    "field_value_processor",
    "json_hash",
    "skip",
    "user_item_processor",
]
