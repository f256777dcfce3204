"""Which installed distribution owns the module ``cdp_bridge``, and its system check.

"cdp-bridge" on the package index is an unrelated project that installs a top-level
``cdp_bridge`` module too. Installed together, the two write over each other's files
(``__init__.py``, ``middleware.py``), and uninstalling either deletes files of the other.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from importlib.metadata import Distribution, distributions
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register
from django.utils.translation import gettext as _

DISTRIBUTION = "django-cdp-bridge"


def canonical_name(name: str) -> str:
    """A distribution name as the package index compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_files(dist: Distribution) -> list[str]:
    """The paths pip recorded installing a distribution (its RECORD), relative to its site."""
    record = dist.read_text("RECORD") or ""
    return [row[0] for row in csv.reader(record.splitlines()) if row]


def foreign_owners() -> list[str]:
    """Installed distributions other than this one with files inside the module cdp_bridge.

    Judged by the files pip installed, not by the module names a distribution declares: an
    editable install left from before the rename declares cdp_bridge but owns none of its
    files, and an egg-info directory that a build leaves in a checkout lists sources.
    """
    owners = set()
    for dist in distributions():
        name = dist.metadata["Name"] or ""
        if canonical_name(name) == DISTRIBUTION:
            continue
        if any(path.split("/")[0] == "cdp_bridge" for path in installed_files(dist)):
            owners.add(name)
    return sorted(owners)


@register("cdp_bridge")
def check_distribution(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Only django-cdp-bridge may install the module cdp_bridge."""
    others = foreign_owners()
    if not others:
        return []
    names = ", ".join(others)
    return [
        Error(
            _(
                "The distribution %(names)s also installs a module named cdp_bridge; its files "
                "and %(distribution)s's overwrite each other."
            )
            % {"names": names, "distribution": DISTRIBUTION},
            hint=_(
                "Run: pip uninstall %(others)s %(distribution)s, then pip install "
                "%(distribution)s. (%(names)s is not part of cdp_bridge.)"
            )
            % {"others": " ".join(others), "distribution": DISTRIBUTION, "names": names},
            id="cdp_bridge.E060",
        )
    ]
