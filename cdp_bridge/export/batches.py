"""Batches: rows serialised as the Streaming API's body, a JSON array within the size limits.

A chunk of at most ``batch_size`` rows is encoded with one ``json.dumps`` call (encoding row by
row is several times slower); only a chunk over ``max_batch_bytes`` is encoded row by row and
split.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.processors import Row


@dataclass(frozen=True)
class Batch:
    """One request's body: ``rows`` rows, the last of which has the primary key ``last_key``."""

    number: int
    body: bytes
    rows: int
    last_key: Any


def encode_rows(rows: Sequence[Row]) -> bytes:
    """A JSON array of the rows, compact UTF-8, with each Decimal written with its own digits.

    ``json`` cannot write a Decimal as a number, and a float would lose digits (``19.90``,
    ``12345678901234567.89``): each Decimal is written as a marker string that no row can
    contain (it holds a random token), and the markers are then replaced by the digits.
    """
    decimals: list[str] = []
    token: list[str] = []  # made for the first Decimal: most batches have none

    def decimal_marker(value: Any) -> str:
        if isinstance(value, Decimal) and value.is_finite():
            if not token:
                token.append(secrets.token_hex(8))
            decimals.append(str(value))
            return f"{token[0]}:{len(decimals) - 1}"
        raise TypeError(f"{value!r} ({type(value).__name__}) is not a scalar the CDP can store")

    try:
        text = json.dumps(
            rows,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=decimal_marker,
        )
    except (TypeError, ValueError) as error:
        raise ExportError(
            _("A row cannot be sent as JSON: %(error)s.") % {"error": error}
        ) from error
    if decimals:
        text = re.sub(f'"{token[0]}:(\\d+)"', lambda match: decimals[int(match[1])], text)
    return text.encode()


def split_into_batches(
    rows: Sequence[Row],
    key_of: Callable[[int], Any],
    max_batch_bytes: int,
    first_number: int,
) -> Iterator[Batch]:
    """The chunk's rows as batches of at most ``max_batch_bytes``; ``key_of(i)`` is row i's key."""
    body = encode_rows(rows)
    if len(body) <= max_batch_bytes:
        yield Batch(first_number, body, len(rows), key_of(len(rows) - 1))
        return
    number = first_number
    parts: list[bytes] = []
    size = 2  # the brackets
    for index, row in enumerate(rows):
        encoded = encode_rows([row])[1:-1]
        if len(encoded) + 2 > max_batch_bytes:
            raise ExportError(
                _(
                    "The row with key %(key)s is %(size)d bytes as JSON, more than "
                    "max_batch_bytes (%(limit)d). Raise max_batch_bytes, or leave the row's "
                    "largest fields out of the export."
                )
                % {"key": key_of(index), "size": len(encoded) + 2, "limit": max_batch_bytes}
            )
        if parts and size + 1 + len(encoded) > max_batch_bytes:
            yield Batch(number, b"[" + b",".join(parts) + b"]", len(parts), key_of(index - 1))
            number += 1
            parts, size = [], 2
        size += len(encoded) + (1 if parts else 0)
        parts.append(encoded)
    yield Batch(number, b"[" + b",".join(parts) + b"]", len(parts), key_of(len(rows) - 1))
