"""The form of a stream id, which the CDP's Data Manager hands out for a Stream file dataflow.

The configuration, the export commands and the schedule all check it: it depends on none of them.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy

# Raptor writes stream ids as four groups of eight hexadecimal digits; a UUID is accepted too.
STREAM_ID_PATTERN = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{8}-[0-9a-fA-F]{8}-[0-9a-fA-F]{8}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
STREAM_ID = re.compile(STREAM_ID_PATTERN)
STREAM_ID_HINT = gettext_lazy(
    "Copy the stream id from the CDP's Data Manager (Stream file): four groups of eight "
    "hexadecimal digits, or a UUID."
)


def is_valid_stream_id(value: str) -> bool:
    """Whether ``value`` is a stream id: Raptor's ``8-8-8-8`` hex form, or a UUID."""
    return STREAM_ID.fullmatch(value) is not None
