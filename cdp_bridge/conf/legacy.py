"""Ibexa 4.x forms of the ``cdp`` block, read as their current forms with a warning.

Ibexa 4.x wrote the user stream as ``user_data_streaming.stream_id`` and the activations as one
mapping (or a mapping of them by name). A file in that form loads; each form is a warning whose
hint shows the current one. Problems inside a moved value are still reported where it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cdp_bridge.conf.problems import KeyPath, Located
from cdp_bridge.conf.reader import NO_SETTING, Reader, declared_fields
from cdp_bridge.conf.rules import SAME_SETTING_DISAGREES
from cdp_bridge.conf.schema import Activation

USER_STREAM = ("data_export", "user_data", "stream_file", "stream_id")
CURRENT_USER_STREAM = gettext_lazy(
    "The current form: data_export: {user_data: {transport: stream_file, stream_file: "
    "{stream_id: ...}}}."
)
CURRENT_ACTIVATIONS = gettext_lazy(
    "The current form is a list: activations: [{client_id: ..., client_secret: ..., "
    "segment_group_identifier: ...}]."
)


def modernise(cdp: Any, path: KeyPath, reader: Reader) -> Any:
    """The ``cdp`` block at ``path`` with its 4.x forms rewritten, each reported as a warning."""
    if not isinstance(cdp, Mapping):
        return cdp
    block = dict(cdp)
    if "user_data_streaming" in block:
        _move_user_stream(block, block.pop("user_data_streaming"), path, reader)
    if isinstance(block.get("activations"), Mapping):
        block["activations"] = _activation_list(
            block["activations"], (*path, "activations"), reader
        )
    return block


def _move_user_stream(block: dict[str, Any], legacy: Any, path: KeyPath, reader: Reader) -> None:
    legacy_path = (*path, "user_data_streaming")
    if legacy is None:
        return
    if not isinstance(legacy, Mapping):
        reader.wrong_type(NO_SETTING, legacy_path, _("a mapping"), legacy)
        return
    reader.report(
        "cdp_bridge.W003",
        legacy_path,
        _("is the Ibexa 4.x form of data_export.user_data; it is read as that."),
        CURRENT_USER_STREAM,
    )
    for key in legacy:
        if key != "stream_id":
            reader.unknown_key((*legacy_path, str(key)), ["stream_id"])
    if "stream_id" not in legacy:
        return
    moved = Located(legacy["stream_id"], (*legacy_path, "stream_id"))
    node: dict[str, Any] = block
    for key in USER_STREAM[:-1]:
        child = node.get(key)
        if child is None:
            child = {}
        elif not isinstance(child, Mapping):
            return  # the reader reports the current form's wrong type
        node[key] = dict(child)
        node = node[key]
    current = node.get(USER_STREAM[-1])
    if current is None:
        node[USER_STREAM[-1]] = moved
    elif current != moved.value:
        reader.report(
            SAME_SETTING_DISAGREES,
            moved.path,
            _("disagrees with %(key)s in the same block.") % {"key": ".".join(USER_STREAM)},
            _(
                "Both name the user stream: keep data_export.user_data and remove "
                "user_data_streaming."
            ),
        )


def _activation_list(activations: Mapping[Any, Any], path: KeyPath, reader: Reader) -> list[Any]:
    """One activation written as a mapping, or activations by name, as the current list."""
    activation_keys = {declared.key[-1] for declared in declared_fields(Activation)}
    if activation_keys & set(activations):
        reader.report(
            "cdp_bridge.W004",
            path,
            _(
                "is one activation written as a mapping (the Ibexa 4.x form); it is read as a "
                "list of one."
            ),
            CURRENT_ACTIVATIONS,
        )
        return [Located(activations, path)]
    reader.report(
        "cdp_bridge.W004",
        path,
        _("is a mapping of activations by name (the Ibexa 4.x form); it is read as a list."),
        CURRENT_ACTIVATIONS,
    )
    return [Located(item, (*path, str(name))) for name, item in activations.items()]
