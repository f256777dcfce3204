"""How a settings field declares itself: where it is written, its bounds, rules and check ids.

The settings classes in ``conf.schema`` are the schema. A field's Python type says what it
holds (``int``, ``str | None``, a ``Literal`` of choices, ``tuple[Activation, ...]``, a
``Mapping``), its default says what it is when not written, and a field without a default is
required. Everything else the reader and the JSON Schema need is the ``Setting`` in its
metadata, written with ``setting()``::

    batch_size: int = field(default=1000, metadata=setting("Rows per request.", minimum=1))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

SETTING = "cdp_bridge.setting"
WRONG_TYPE = "cdp_bridge.E002"


@dataclass(frozen=True)
class Rule:
    """A rule a value follows beyond its type, with its own check id.

    ``problem`` returns what is wrong with a value (a sentence, translated), or None when it is
    fine. ``hint`` is declared at import time, so it is a ``gettext_lazy`` string.
    ``json_schema`` is what JSON Schema can say of the rule, for editors (a pattern).
    """

    check_id: str
    problem: Callable[[Any], str | None]
    hint: str | StrPromise = ""
    json_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassRule:
    """A rule about several fields of one settings object, checked once it is complete.

    ``problem`` receives the values read (by field name; absent fields are missing) and
    returns the field to report and what is wrong, or None. ``json_schema`` is what JSON Schema
    can say of the rule.
    """

    check_id: str
    problem: Callable[[Mapping[str, Any]], tuple[str, str] | None]
    hint: str | StrPromise = ""
    json_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Setting:
    """What a field declares besides its type and default. Every key but ``doc`` is optional.

    * ``key``: where the value is written, relative to the enclosing mapping, when it is not the
      field's name: ``("stream_file", "stream_id")``.
    * ``read=False``: not written in the configuration; the reader fills it in (``from_path``:
      the item's key or index at that position of its key path; ``whole_path``: the key path).
    * ``wrong_type``, ``hint``: the check id and hint of a value of the wrong type.
    * ``minimum`` (``exclusive_minimum``): the lower bound of a number (cdp_bridge.E023).
    * ``allow_empty``: an empty string is a value (otherwise cdp_bridge.E026).
    * ``rules``: what the value must satisfy besides its type, each with its own check id.
    * ``required_when=(field, value)``: required when another field has that value.
    * ``keys``: the keys a mapping may have, by the key each is stored under; without it the
      keys are names the user chooses.
    * ``only_for_kinds``: the key exists only in items of these kinds (their ``kind`` field).
    * ``refers_to=(collection, check id)``: the value must name one of a collection (``scopes``).
    * ``section``: for a top-level key, the section of the YAML file it goes under.
    * ``same_as``: the key path, in the same ``system`` block, of the key this one is another
      spelling of (Ibexa's ``connector_raptor.customer_id`` is ``cdp.account_number``).
    * ``secret``: the value is a secret, which no problem of it repeats.
    """

    doc: str
    key: tuple[str, ...] | None = None
    read: bool = True
    wrong_type: str = WRONG_TYPE
    hint: str | StrPromise = ""
    minimum: float | None = None
    exclusive_minimum: bool = False
    allow_empty: bool = False
    rules: tuple[Rule, ...] = ()
    required_when: tuple[str, object] | None = None
    keys: Mapping[str, str] | None = None
    from_path: int | None = None
    whole_path: bool = False
    only_for_kinds: tuple[str, ...] | None = None
    refers_to: tuple[str, str] | None = None
    section: str | None = None
    same_as: tuple[str, ...] | None = None
    secret: bool = False


def setting(doc: str, **options: Any) -> dict[str, Setting]:
    """A field's metadata: ``doc`` and any of ``Setting``'s keys.

    ``key`` may be one name (``"client_secret"``), and ``keys`` a tuple of the keys a mapping
    may have, each stored under its own name.
    """
    if isinstance(options.get("key"), str):
        options["key"] = (options["key"],)
    if isinstance(options.get("keys"), tuple):
        options["keys"] = {key: key for key in options["keys"]}
    return {SETTING: Setting(doc=doc, **options)}
