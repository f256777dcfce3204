"""The Streaming API as Raptor documents it, checked strictly: what a batch must be.

*(Raptor, "How to use the Raptor Streaming API")* ``POST /stream/{accountId}`` with the headers
``x-streamid`` (the data flow's id), ``Content-Type: application/json`` and ``x-isdraft: true``
while the data flow is a draft (the header is removed in production); the body is a JSON array
of objects. cdp_bridge sends flat objects of scalars (string, boolean, number, null; dates as
ISO 8601 text), so anything nested is refused here too: a sandbox that accepted it would hide a
processor that returns a list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdp_bridge.conf import is_valid_stream_id

MAX_BODY_BYTES = 16 * 1024 * 1024  # the sandbox's own limit; Raptor documents none
PERSON_IDENTIFIER = "id"  # the user export's id column, mapped to the CDP's ``userid``
# A catalogue row (content or product) names its type; a person row does not.
CATALOGUE_COLUMNS = ("content_type", "product_type")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
MAX_PROBLEMS = 20


class BatchRefused(Exception):
    """A request the Streaming API refuses; ``status`` is the 4xx to answer, the message why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class StreamBatch:
    """One accepted batch: its rows, and what the Data Manager would flag in them."""

    account: str
    stream_id: str
    draft: bool
    rows: tuple[dict[str, Any], ...]
    schema: str  # "person" or "catalogue"
    problems: tuple[str, ...] = field(default=())


def parse_batch(account: str, headers: Mapping[str, str], body: bytes) -> StreamBatch:
    """The batch a Streaming API request carries; BatchRefused says what is wrong with it.

    ``headers`` are keyed in lower case.
    """
    if not account.isascii() or not account.isdigit():
        raise BatchRefused(404, f"No account {account!r}: the account id is a number.")
    stream_id = headers.get("x-streamid", "").strip()
    if not stream_id:
        raise BatchRefused(400, "The x-streamid header is missing: name the data flow's stream.")
    if not is_valid_stream_id(stream_id):
        raise BatchRefused(
            400, "The x-streamid header is not a stream id (a GUID from the Data Manager)."
        )
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise BatchRefused(
            415, f"Content-Type must be application/json, not {media_type or 'missing'}."
        )
    draft_header = headers.get("x-isdraft")
    if draft_header is not None and draft_header.strip().lower() != "true":
        raise BatchRefused(
            400,
            f"x-isdraft is {draft_header!r}: send 'true' for a draft, and no header at all for "
            "production data.",
        )
    if len(body) > MAX_BODY_BYTES:
        raise BatchRefused(413, f"The batch is over {MAX_BODY_BYTES} bytes.")
    rows = _rows(body)
    schema = "catalogue" if any(column in rows[0] for column in CATALOGUE_COLUMNS) else "person"
    return StreamBatch(
        account, stream_id, draft_header is not None, tuple(rows), schema, _flags(rows)
    )


def _rows(body: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BatchRefused(400, "The body is not UTF-8.") from None
    except ValueError as error:
        raise BatchRefused(400, f"The body is not JSON: {error}.") from None
    if not isinstance(document, list):
        raise BatchRefused(400, f"The body must be a JSON array of objects, not {_kind(document)}.")
    if not document:
        raise BatchRefused(400, "The batch is an empty array: send at least one row.")
    problems = []
    for index, row in enumerate(document):
        if not isinstance(row, dict):
            problems.append(f"row {index} is {_kind(row)}, not an object")
            continue
        for key, value in row.items():
            if not key:
                problems.append(f"row {index} has an empty column name")
            elif not (value is None or isinstance(value, str | bool | int | float)):
                problems.append(f"row {index} column {key!r} is {_kind(value)}, not a scalar")
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise BatchRefused(400, "The batch has malformed rows: " + "; ".join(problems) + ".")
    return document


def has_identifier(row: Mapping[str, Any]) -> bool:
    """Whether a row names the profile it belongs to: an ``id`` that is not missing, null, or
    empty (``""``, ``"  "``), which would make every such row one profile."""
    value = row.get(PERSON_IDENTIFIER)
    return value is not None and str(value).strip() != ""


def _flags(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    missing = [index for index, row in enumerate(rows) if not has_identifier(row)]
    if not missing:
        return ()
    shown = ", ".join(str(index) for index in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (
        f"{len(missing)} rows without the identifier column {PERSON_IDENTIFIER!r} (missing, "
        f"null or empty: rows {shown}{more} of the batch) were not stored.",
    )


def value_type(value: object) -> str | None:
    """The Data Manager's type of a value: String, DateTime, Number or Boolean; None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return "DateTime"
    return "String"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
