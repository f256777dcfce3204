"""Demo history for the admin's CDP dashboard (``seed_demo --history DAYS``): what the site
shows after it has been connected to the CDP for a while.

The deliveries are real: the example's audiences (by the rules of ``seeding``), a full snapshot
on the first day and every week, deltas on the other days, a resend now and then, a malformed
body twice - each through the webhook's core as the CDP's activation would send them, a large
one through the queue. So the segment sizes are the sync engine's own. Each day's records are
then dated back to that day. The export runs are records as the export writes them, with
timings made up (exporting the demo's few hundred rows takes a blink).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from shop.models import Product

from cdp_bridge import conf
from cdp_bridge.exceptions import InvalidPayload
from cdp_bridge.models import ExportRun, SegmentMembership, SegmentSize, WebhookDelivery
from cdp_bridge.webhook import history, receiving
from cdp_bridge.webhook.clients import ActivationClient, find_client
from cdp_bridge.webhook.queue import process_queued
from cdp_bridge.webhook.serializers import validate_delivery
from demo.seeding import SEGMENT_GROUP
from demo.seeding import segment_rules as rules

EXPORT_SOURCES = {"user": "user", "content": "article", "product": "product"}


def seed_history(days: int, report: Callable[[str], None]) -> None:
    """Export runs and CDP deliveries over the last ``days`` days; once only."""
    if WebhookDelivery.objects.exists() or ExportRun.objects.exists():
        report("history: left alone, the site has export runs or deliveries already")
        return
    scope = conf.get_scope("default")
    client = find_client(scope.activations[0].client_id)
    assert client is not None
    rng = random.Random(20261201)
    today = timezone.localdate()
    audiences = {identifier: (name, sorted(members)) for identifier, name, members in rules()}
    sizes = {"user": get_user_model().objects.filter(is_active=True).count()}
    sizes["product"] = Product.objects.count()
    runs = deliveries = 0
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        runs += record_exports(scope, sizes, day, back, rng)
        deliveries += deliver_audiences(client, audiences, day, days - 1 - back, days, rng)
    report(f"history: {days} days, {runs} export runs, {deliveries} webhook deliveries")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


# -- export runs ---------------------------------------------------------------------------------


def record_exports(
    scope: conf.ScopeSettings, sizes: dict[str, int], day: date, back: int, rng: random.Random
) -> int:
    """The schedule's runs of one day: users and products at night, articles changed since the
    last run every six hours; a failure eight days ago and an interruption three days ago."""
    planned = [("user", 2, 30, sizes["user"]), ("product", 3, 0, sizes["product"])]
    planned += [("content", hour, 0, rng.randrange(0, 12)) for hour in (0, 6, 12, 18)]
    recorded = 0
    for kind, hour, minute, rows in planned:
        started = at(day, hour, minute)
        if started > timezone.now():
            continue
        speed = rng.uniform(1800, 3200)  # rows a second
        seconds = 0.4 + rows / speed
        status, error = ExportRun.Status.SUCCEEDED, ""
        if back == 8 and kind == "user":
            status, rows, seconds = ExportRun.Status.FAILED, rows // 2, seconds / 2 + 600
            error = "The CDP answered 503 to batch 1 until the retry budget (600 s) ran out."
        if back == 3 and kind == "product":
            status, rows, seconds = ExportRun.Status.INTERRUPTED, rows // 3, seconds / 3
            error = "Interrupted: the process running this export was stopped (SIGTERM)."
        stream = scope.stream(kind)
        run = ExportRun.objects.create(
            kind=kind,
            scope=scope.name,
            source=EXPORT_SOURCES[kind],
            transport=stream.transport,
            stream_id=stream.stream_id or "",
            destination=str(stream.directory or ""),
            draft=False,
            rows=rows,
            batches=max(1, -(-rows // stream.batch_size)),
            status=status,
            error=error,
        )
        finished = started + timedelta(seconds=seconds)
        ExportRun.objects.filter(pk=run.pk).update(
            started_at=started, heartbeat_at=finished, finished_at=finished
        )
        recorded += 1
    return recorded


# -- deliveries ----------------------------------------------------------------------------------


def deliver_audiences(
    client: ActivationClient,
    audiences: dict[str, tuple[str, list[int]]],
    day: date,
    number: int,
    days: int,
    rng: random.Random,
) -> int:
    """Day ``number`` (from 0) of ``days``: each audience grows towards its members by its
    rule, a few leave on the way; the last day holds exactly the rule's members."""
    bodies = []
    for identifier, (name, members) in audiences.items():
        share = 0.55 + 0.45 * number / max(1, days - 1)
        wanted = members[: round(len(members) * share)]
        if number < days - 1:
            wanted = [member for member in wanted if rng.random() > 0.04]
        change: dict[str, object] = {"sync": "full", "members": ids(wanted)}
        if number % 7 and number < days - 1:  # a full snapshot each week, deltas between
            current = set(members_of(identifier))
            change = {
                "sync": "delta",
                "added": ids(sorted(set(wanted) - current)),
                "removed": ids(sorted(current - set(wanted))),
            }
        bodies.append({"id": identifier, "name": name, "sequence": number + 1, **change})
    delivery_id = f"demo-{day:%Y%m%d}"
    records = [send(client, bodies, delivery_id)]
    records += [record.pk for record in process_queued()]  # a large one waits in the queue
    if number % 4 == 1:  # the CDP's retry of a delivery whose answer it missed: a duplicate
        records.append(send(client, bodies, delivery_id))
    if number in (2, days - 4):  # a malformed body, refused
        records.append(send(client, "all", f"{delivery_id}-malformed"))
    date_back(day, records)
    return len(set(records))


def ids(users: Sequence[int]) -> list[str]:
    return [str(pk) for pk in users]


def members_of(identifier: str) -> list[int]:
    """Who is in the audience's segment now."""
    return list(
        SegmentMembership.objects.filter(
            segment__group__identifier=SEGMENT_GROUP, segment__identifier=identifier
        ).values_list("user_id", flat=True)
    )


def send(client: ActivationClient, audiences: object, delivery_id: str) -> int:
    """One delivery through the webhook's core, as the view hands it over; its record's key."""
    body = {"segment_group_identifier": SEGMENT_GROUP, "audiences": audiences}
    text = json.dumps(body)
    try:
        delivery = validate_delivery(body)
    except InvalidPayload as error:
        history.record_rejection(client, error, text.encode(), delivery_id)
        return WebhookDelivery.objects.latest("pk").pk
    return receiving.receive(client, delivery, text, delivery_id).record.pk


def date_back(day: date, records: Sequence[int]) -> None:
    """The day's deliveries (and the sizes they recorded) moved to ``day``."""
    if day == timezone.localdate():
        return
    moment = at(day, 7, 15)
    WebhookDelivery.objects.filter(pk__in=records).update(received_at=moment, processed_at=moment)
    SegmentSize.objects.filter(day=timezone.localdate()).update(day=day, recorded_at=moment)
