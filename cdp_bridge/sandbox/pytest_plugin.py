"""The ``cdp_sandbox`` pytest fixture (registered as a pytest plugin by django-cdp-bridge).

Nothing is imported at collection time: Django is configured only once pytest-django has run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cdp_bridge.sandbox.double import RunningSandbox


@pytest.fixture
def cdp_sandbox(tmp_path: Path, settings: Any) -> Iterator[RunningSandbox]:
    """A CDP sandbox on a free loopback port, with ``settings.CDP_BRIDGE`` pointed at it.

    Exports go to its Streaming API, tracking to its tracking endpoint, the membership API to
    it; read ``cdp_sandbox.rows("user")``, define audiences with ``define()`` and run an
    activation against a live server with ``activate(base_url=...)``.
    """
    from cdp_bridge.conf import YamlConfigFile
    from cdp_bridge.sandbox.double import RunningSandbox

    raw = getattr(settings, "CDP_BRIDGE", None)
    config_file = getattr(settings, "CDP_BRIDGE_CONFIG_FILE", None)
    if raw is None and config_file:
        raw = YamlConfigFile(config_file)
    sandbox = RunningSandbox(tmp_path / "cdp_sandbox")
    try:
        settings.CDP_BRIDGE = sandbox.site_configuration(raw)
        yield sandbox
    finally:
        sandbox.stop()
