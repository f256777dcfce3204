"""The schedule lock: a database lease per entry, so that a fire runs once and runs never overlap.

Claiming is one conditional UPDATE, atomic on every database, so processes on one machine
or many that share the database agree on who runs an entry. The holder renews its lease
while it works; a holder that dies stops renewing, and once its lease lapses the fire it
claimed is run again by the next invocation.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from cdp_bridge.conf import ScheduleEntry
from cdp_bridge.heartbeat import repeated
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule.clock import latest_fire_time

LEASE = timedelta(minutes=5)
RENEW_EVERY = timedelta(minutes=1)


def state_of(entry: ScheduleEntry, now: datetime) -> ScheduleState:
    """The entry's state; a new entry starts as if it had run at its last fire before now.

    So an entry added at 10:07 with ``*/15`` first runs at 10:15, not at once — unless it
    fires in the very minute it is first seen.
    """
    state, _ = ScheduleState.objects.get_or_create(
        entry_key=entry.key,
        defaults={
            "kind": entry.kind,
            "scope": entry.scope,
            "interval": entry.interval,
            "options": entry.options,
            "last_fire_time": latest_fire_time(entry.interval, now - timedelta(minutes=1)),
        },
    )
    return state


def claim(entry: ScheduleEntry, fire_time: datetime, owner: str, now: datetime) -> bool:
    """Take the lease to run ``entry`` for ``fire_time``; False if not due or held elsewhere.

    Due means a fire newer than the one last claimed, or a claimed run whose holder died
    (its result still "running" and its lease lapsed).
    """
    due = Q(last_fire_time__lt=fire_time) | Q(last_result=ScheduleState.Result.RUNNING)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = ScheduleState.objects.filter(due, free, entry_key=entry.key).update(
        last_fire_time=fire_time,
        lease_owner=owner,
        lease_expires_at=now + LEASE,
        last_started_at=now,
        last_result=ScheduleState.Result.RUNNING,
        last_error="",
    )
    return claimed == 1


def release(entry: ScheduleEntry, owner: str, result: str, *, error: str = "") -> None:
    """Record how the run ended (a ``ScheduleState.Result``) and give the lease back."""
    ScheduleState.objects.filter(entry_key=entry.key, lease_owner=owner).update(
        lease_owner="",
        lease_expires_at=None,
        last_finished_at=timezone.now(),
        last_result=result,
        last_error=error,
    )


def renewed_lease(entry: ScheduleEntry, owner: str) -> AbstractContextManager[None]:
    """Keep renewing the lease while the body runs (an export may outlast one lease)."""

    def renew() -> None:
        ScheduleState.objects.filter(entry_key=entry.key, lease_owner=owner).update(
            lease_expires_at=timezone.now() + LEASE
        )

    return repeated(renew, RENEW_EVERY, f"cdp-lease-{entry.name}")
