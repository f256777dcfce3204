"""CDP_BRIDGE read from a YAML file: Ibexa's ``ibexa_cdp.yaml`` verbatim, or cdp_bridge's own keys.

Ibexa's file has two top-level keys: ``ibexa.system.<scope>`` (per-scope settings: ``cdp`` and
``connector_raptor``) and ``ibexa_cdp`` (global settings). cdp_bridge's additions (``scopes``,
``sources``, ``webhook``, ``processors``) go under a third key, ``cdp_bridge``; each key's section
is declared with it in ``conf.schema``, and a key under another section is reported. A file with
none of these three keys is read as the native ``CDP_BRIDGE`` dict written in YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import gettext as _

from cdp_bridge.exceptions import ConfigurationError

IBEXA_TOP_LEVEL_KEYS = ("ibexa", "ibexa_cdp", "cdp_bridge")


class YamlConfigFile(Mapping[str, Any]):
    """A lazily read YAML configuration; use it as ``CDP_BRIDGE = load_yaml(path)``.

    Nothing is read when settings are imported: the file is read, and its errors reported,
    when the configuration is first used (by a system check, a command or a request).
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path).expanduser()  # ~/cdp.yaml, as a shell reads it

    def __repr__(self) -> str:
        return f"YamlConfigFile({str(self.path)!r})"

    def read(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Return the configuration as a native dict, and each top-level key's YAML prefix.

        The prefixes let errors name the key as it is written in the file
        (``ibexa.system.default.cdp.account_number``, not ``system.default...``).
        """
        document = self._load_document()
        if not any(key in document for key in IBEXA_TOP_LEVEL_KEYS):
            return document, {}
        unknown = sorted(set(document) - set(IBEXA_TOP_LEVEL_KEYS))
        if unknown:
            raise ConfigurationError(
                _(
                    "%(path)s: unknown top-level key %(key)s. An Ibexa-style file has only "
                    "%(keys)s; move it under one of them."
                )
                % {
                    "path": self.path,
                    "key": repr(unknown[0]),
                    "keys": ", ".join(IBEXA_TOP_LEVEL_KEYS),
                }
            )
        native: dict[str, Any] = {}
        prefixes: dict[str, str] = {}
        for section in IBEXA_TOP_LEVEL_KEYS:
            for key, value in self._section(document, section).items():
                if key in native:
                    raise ConfigurationError(
                        _(
                            "%(path)s: %(key)s is both under %(first)s and under %(second)s; "
                            "keep it under one of them."
                        )
                        % {
                            "path": self.path,
                            "key": repr(key),
                            "first": prefixes[key],
                            "second": section,
                        }
                    )
                native[key] = value
                prefixes[key] = section
        return native, prefixes

    def _load_document(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(
                _(
                    "%(path)s: the CDP configuration file cannot be read (%(reason)s). Check "
                    "the path given to load_yaml() or CDP_BRIDGE_CONFIG_FILE."
                )
                % {"path": self.path, "reason": error.strerror}
            ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problem = getattr(error, "problem", None) or "invalid YAML"
            if mark:
                message = _(
                    "%(path)s: malformed YAML at line %(line)d, column %(column)d: %(problem)s. "
                    "Fix the file's syntax."
                ) % {
                    "path": self.path,
                    "line": mark.line + 1,
                    "column": mark.column + 1,
                    "problem": problem,
                }
            else:
                message = _("%(path)s: malformed YAML: %(problem)s. Fix the file's syntax.") % {
                    "path": self.path,
                    "problem": problem,
                }
            raise ConfigurationError(message) from None
        if document is None:
            return {}
        if not isinstance(document, dict):
            raise ConfigurationError(
                _("%(path)s: the file must hold a mapping of keys, not a %(type)s.")
                % {"path": self.path, "type": type(document).__name__}
            )
        return document

    def _section(self, document: Mapping[str, Any], name: str) -> dict[str, Any]:
        section = document.get(name) or {}
        if not isinstance(section, dict):
            raise ConfigurationError(
                _("%(path)s: %(section)s must be a mapping of keys, not a %(type)s.")
                % {"path": self.path, "section": name, "type": type(section).__name__}
            )
        return section

    # The Mapping interface, for code that reads settings.CDP_BRIDGE as a dict.
    def __getitem__(self, key: str) -> Any:
        return self.read()[0][key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.read()[0])

    def __len__(self) -> int:
        return len(self.read()[0])


def load_yaml(path: str | PathLike[str]) -> YamlConfigFile:
    """Use a YAML file as the CDP_BRIDGE setting; it is read lazily, on first use."""
    return YamlConfigFile(path)
