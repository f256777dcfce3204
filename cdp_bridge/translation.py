"""Messages translated when they are read, and their English form for log records.

A webhook refusal is answered in the request's language but logged, and stored with the
delivery, in English: operators search logs in one language. Such a message is built lazily
(``gettext_lazy`` and ``interpolate_lazy``) and turned into text where it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

from django.utils import translation
from django.utils.functional import lazy

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise


def _interpolated(text: object, params: Mapping[str, Any]) -> str:
    return str(text) % params


_interpolated_lazy = lazy(_interpolated, str)


def interpolate_lazy(text: StrPromise, params: Mapping[str, Any]) -> StrPromise:
    """``text % params``, translated in the language active when it is read, not now."""
    return cast("StrPromise", _interpolated_lazy(text, params))


ENGLISH = "en"  # the language of log records and stored records


def english() -> AbstractContextManager[None]:
    """English for what is read inside: for text read again for a log or a stored record."""
    return translation.override(ENGLISH)


def speaking_english() -> bool:
    """Whether the active language is English, so that English text needs no second reading."""
    return (translation.get_language() or ENGLISH).startswith(ENGLISH)


def in_english(message: object) -> str:
    """A (lazy) message, or an exception built from one, as English text: for a log record."""
    with english():
        return str(message)
