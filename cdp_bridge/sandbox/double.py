"""The sandbox as a test double for a site's own tests: started on a free port, with the site's
configuration pointed at it (see the ``cdp_sandbox`` pytest fixture in ``cdp_bridge.testing``).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cdp_bridge import conf
from cdp_bridge.conf import YamlConfigFile
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.sandbox.activation import ActivationReport, Sleep, activate_all
from cdp_bridge.sandbox.audience_file import read_audience_file
from cdp_bridge.sandbox.audiences import members, profiles
from cdp_bridge.sandbox.faults import Faults
from cdp_bridge.sandbox.server import Sandbox

TEST_ACCOUNT = 12345
MEMBERSHIP_ACTIVATION_ID = "sandbox-membership"


class RunningSandbox:
    """A sandbox serving on a free loopback port; ``stop()`` ends it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.audience_path = directory / "audiences.yaml"
        self.audience_path.write_text("audiences: []\n")
        self.membership_api_key = secrets.token_urlsafe(16)
        self.sandbox = Sandbox(
            directory / "state", self.audience_path, address=("127.0.0.1", 0)
        ).start()
        self.url = self.sandbox.url
        self.store = self.sandbox.store

    def stop(self) -> None:
        self.sandbox.stop()

    # -- pointing a site at it ------------------------------------------------------------------

    def site_configuration(self, raw: object) -> dict[str, Any]:
        """``CDP_BRIDGE`` (a dict or a YAML file) with every CDP address this sandbox's.

        The ``global`` section overrides every scope: the Streaming API (every kind by the
        ``stream_file`` transport), the tracking script and endpoint and the membership API.
        Kinds without a stream id, and a default scope without an account number, get one.
        """
        if isinstance(raw, YamlConfigFile):
            raw = raw.read()[0]
        config: dict[str, Any] = copy.deepcopy(dict(raw)) if isinstance(raw, Mapping) else {}
        system = config.setdefault("system", {})
        default = system.setdefault("default", {}).setdefault("cdp", {})
        default.setdefault("account_number", TEST_ACCOUNT)
        exports = default.setdefault("data_export", {})
        for kind in EXPORT_KINDS:
            stream = exports.setdefault(f"{kind}_data", {}).setdefault("stream_file", {})
            stream.setdefault("stream_id", f"{secrets.token_hex(4)}-{kind_number(kind)}")
        system.setdefault("global", {}).setdefault("cdp", {}).update(
            {
                "stream_base_url": self.url,
                "data_export": {
                    f"{kind}_data": {"transport": "stream_file"} for kind in EXPORT_KINDS
                },
                "tracking": {
                    "script_url": f"{self.url}/tracking/raptor.js",
                    "server_url": self.url,
                },
                "membership": {
                    "base_url": self.url,
                    "activation_id": MEMBERSHIP_ACTIVATION_ID,
                    "api_key": self.membership_api_key,
                },
            }
        )
        return config

    def site_activation(
        self, base_url: str, audiences: list[str], *, scope: str = "default", **options: Any
    ) -> dict[str, Any]:
        """An activation entry with the credentials of the site's activation in ``scope``."""
        activation = conf.get_scope(scope).activations[0]
        entry: dict[str, Any] = {
            "name": options.pop("name", activation.client_id),
            "client_id": activation.client_id,
            "client_secret": activation.client_secrets[0],
            "base_url": base_url,
            "segment_group_identifier": activation.segment_group_identifier,
            "audiences": audiences,
        }
        if activation.signing_secret:
            entry["signing_secret"] = activation.signing_secret
        return entry | options

    # -- what the test sets up ------------------------------------------------------------------

    def define(
        self,
        audiences: list[dict[str, Any]],
        activations: list[dict[str, Any]] = (),  # type: ignore[assignment]
        membership: list[str] | None = None,
    ) -> None:
        """Write the audience file (checked at once: a mistake raises AudienceFileInvalid)."""
        document: dict[str, Any] = {"audiences": audiences, "activations": list(activations)}
        if membership is not None:
            document["membership"] = {
                "activation_id": MEMBERSHIP_ACTIVATION_ID,
                "api_key": self.membership_api_key,
                "audiences": membership,
            }
        self.audience_path.write_text(yaml.safe_dump(document, sort_keys=False))
        read_audience_file(self.audience_path)

    def fail(self, spec: str, *, seed: int = 0, retry_after: int = 0) -> None:
        """Inject failures into the Streaming API (``"503:0.3,drop:0.1"``; ``""`` for none)."""
        self.sandbox.app.faults = Faults.parse(spec, seed=seed, retry_after=retry_after)

    # -- what the test reads ----------------------------------------------------------------------

    def rows(
        self, kind: str | None = None, *, draft: bool = False, scope: str = "default"
    ) -> list[dict[str, Any]]:
        """The rows received (after upserts), of one kind's stream in ``scope``, or of all."""
        stream_id = conf.get_scope(scope).stream(kind).stream_id if kind else None
        return self.store.rows(stream_id, draft=draft)

    def batches(self) -> list[dict[str, Any]]:
        """Every request to the Streaming API, newest first, with its status and message."""
        return self.store.batches(limit=-1)

    def events(self) -> list[dict[str, Any]]:
        """Tracked events, newest first."""
        return self.store.events()

    def members(self, audience_id: str) -> list[str]:
        """The person ids the audience has now, from the data received."""
        audience = self.sandbox.audiences.get().audience(audience_id)
        if audience is None:
            raise KeyError(f"no audience {audience_id!r}")
        return members(audience, profiles(self.store)[0])

    def activate(
        self, name: str | None = None, *, base_url: str | None = None, sleep: Sleep | None = None
    ) -> list[ActivationReport]:
        """Run the activation(s) now; ActivationFailed when the site refuses or is down."""
        extra = {"sleep": sleep} if sleep else {}
        return activate_all(
            self.store, self.sandbox.audiences.get(), name, base_url=base_url, **extra
        )

    def attempts(self) -> list[dict[str, Any]]:
        """Every activation attempt, newest first, with the request and the site's answer."""
        return self.store.attempts(limit=-1)


def kind_number(kind: str) -> str:
    """The rest of a stream id, one per kind, so that the kinds land in separate streams."""
    return f"{EXPORT_KINDS.index(kind) + 1:08x}-00000000-00000000"
