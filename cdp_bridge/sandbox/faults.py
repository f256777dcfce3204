"""Failure injection for the Streaming API: a share of requests answered 503, 429, not at all, or
slowly, so that a site can test how its export copes with a flaky CDP.

Written ``503:0.2,429:0.1,drop:0.05,slow:0.1`` (the share of requests, 0 to 1, for each kind).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

FAULT_KINDS = ("503", "429", "drop", "slow")


class FaultSpecInvalid(ValueError):
    """A failure specification that cannot be read; the message says why."""


@dataclass
class Faults:
    """The shares of each failure; ``draw()`` picks the fate of one request."""

    shares: dict[str, float] = field(default_factory=dict)
    retry_after: int = 1  # seconds, sent with 429
    slow_seconds: float = 2.0
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - not for cryptography
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, spec: str, **options: float) -> Faults:
        shares: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kind, _colon, share = item.partition(":")
            if kind not in FAULT_KINDS:
                raise FaultSpecInvalid(
                    _("unknown failure %(kind)s in %(spec)s: use %(kinds)s.")
                    % {"kind": repr(kind), "spec": repr(spec), "kinds": ", ".join(FAULT_KINDS)}
                )
            try:
                value = float(share)
            except ValueError:
                raise FaultSpecInvalid(
                    _("%(item)s: write the share of requests as a number, e.g. %(kind)s:0.2.")
                    % {"item": repr(item), "kind": kind}
                ) from None
            if not 0 <= value <= 1:
                raise FaultSpecInvalid(
                    _("%(item)s: a share is between 0 and 1.") % {"item": repr(item)}
                )
            shares[kind] = value
        if sum(shares.values()) > 1:
            raise FaultSpecInvalid(
                _("%(spec)s: the shares add up to more than 1.") % {"spec": repr(spec)}
            )
        return cls(shares, **options)  # type: ignore[arg-type]

    def draw(self) -> str | None:
        """The failure for the next request, or None to answer it normally."""
        with self._lock:
            roll = self._random.random()
        for kind in FAULT_KINDS:
            share = self.shares.get(kind, 0.0)
            if roll < share:
                return kind
            roll -= share
        return None

    def describe(self) -> str:
        active = [
            f"{kind} {self.shares[kind]:.0%}" for kind in FAULT_KINDS if self.shares.get(kind)
        ]
        return ", ".join(active) or "none"
