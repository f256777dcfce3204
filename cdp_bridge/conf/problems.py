"""A configuration problem and the key path it is reported at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KeyPath = tuple[str | int, ...]


def render_key_path(path: KeyPath, prefixes: Mapping[str, str]) -> str:
    """``system.shop.cdp.activations[0].client_id``, under its YAML section when it has one."""
    text = ""
    for index, part in enumerate(path):
        if isinstance(part, int):
            text += f"[{part}]"
        elif index == 0:
            prefix = prefixes.get(part)
            text = f"{prefix}.{part}" if prefix else part
        else:
            text += f".{part}"
    return text


def is_under(path: KeyPath, prefix: KeyPath) -> bool:
    """Whether ``path`` is ``prefix`` or a key inside it."""
    return path[: len(prefix)] == prefix


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, reported by a system check with ``check_id``.

    ``path`` is the key path as the configuration's author wrote it; ``key`` is the same path
    as a tuple of the native form (``("data_export", "schedule", "user", 0, "interval")``), so
    that a caller can tell which part of the configuration a problem belongs to.
    """

    check_id: str
    path: str
    message: str
    hint: str
    key: KeyPath = ()

    @property
    def is_error(self) -> bool:
        return self.check_id.startswith("cdp_bridge.E")

    def __str__(self) -> str:
        return f"{self.path}: {self.message} {self.hint}".rstrip()


@dataclass(frozen=True)
class Located:
    """A value moved from where it is written (a 4.x key read as its current form).

    The reader reports a problem with the value at ``path``, where the author wrote it.
    """

    value: Any
    path: KeyPath
