"""Benchmark of the activation webhook on the PostgreSQL database DATABASE_URL names.

    createdb -h 127.0.0.1 -U postgres cdp_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdp_bench
    .venv/bin/python benchmarks/webhook_sync.py [--members N] [--senders 20] [--requests 25]

The benchmark owns its database: it empties the webhook's tables (and may drop and recreate the
membership table) before it measures. It never relies on autovacuum (which may be off): where a
measure needs statistics, it runs ANALYZE itself, and where it needs stale ones, it says which.

1. With an audience of 200,000 members applied (``--audience``), on a live server — gunicorn,
   and Django's threaded development server — 20 concurrent senders: the p50/p99 latency of an
   authenticated HEAD and of small deliveries (a full audience of 50 members, each sender its
   own), and their ratio; then 400 concurrent deliveries mixing snapshot parts, new segments,
   deltas and removals, every one of which must be answered 200.
2. Cold statistics, each against a bare COPY or the same work after ANALYZE in the same run:
   a re-sync of 50,000 members while the statistics describe an empty membership table (and
   one describing only another segment); a first delivery of 180,000 members into a
   never-filled table and the re-sync after it; a full snapshot of 200,000 members into a
   truncated and analysed table.
3. For N members (default 1,000,000): a bare COPY of N (segment, user) rows into the
   membership table, and through the webhook's queue (``process_delivery``: JSON, validation,
   sync, commit) a full snapshot of N members into an empty segment, the same snapshot with 1%
   changed, and a delta of 10,000 (5,000 added, 5,000 removed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.webhook_settings")

MEMBERSHIPS = "cdp_bridge_segmentmembership"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--audience", type=int, default=200_000, help="applied before latency")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per sender (default 25)")
    parser.add_argument("--mixed", type=int, default=400, help="mixed concurrent deliveries")
    parser.add_argument(
        "--server", choices=["gunicorn", "runserver", "both"], default="both", help="for latency"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn's sync workers")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    django.setup()
    if args.serve:
        serve(args.serve)
        return

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("The webhook benchmark measures PostgreSQL: set DATABASE_URL to one.")
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    call_command("migrate", verbosity=0)
    users = ensure_users(max(args.members + args.members // 100 + 10_000, 400_000))
    if not args.skip_latency:
        reset()
        applied = deliver("audience", users[: args.audience])
        print(f"an audience of {args.audience} members applied first: {applied:.2f} s")
        servers = ["gunicorn", "runserver"] if args.server == "both" else [args.server]
        for server in servers:
            latency(server, args, users[: args.audience])
    if not args.skip_cold:
        cold(users)
    if not args.skip_bulk:
        bulk(args.members, users)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


# -- the webhook's tables ------------------------------------------------------------------------


def reset() -> None:
    """Empty the webhook's tables (TRUNCATE passes the group lock) and create the group."""
    from django.conf import settings
    from django.db import connection

    from cdp_bridge.models import SegmentGroup

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE cdp_bridge_segmentmembership, cdp_bridge_segmentsize, cdp_bridge_segment, "
            "cdp_bridge_snapshotpart, cdp_bridge_webhookdelivery, cdp_bridge_segmentgroup"
        )
    SegmentGroup.objects.create(identifier=settings.GROUP, name="Benchmark")


def recreate_membership_table() -> None:
    """A membership table as a fresh install has it: never filled, never analysed."""
    from django.db import connection

    from cdp_bridge.models import SegmentMembership

    with connection.schema_editor() as editor:
        editor.delete_model(SegmentMembership)
        editor.create_model(SegmentMembership)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {MEMBERSHIPS}")


def truncate(then_analyze: bool = True) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {MEMBERSHIPS}")
    if then_analyze:
        analyze()


def deliver(audience_id: str, user_ids: list[int], sync: str = "full", **fields: Any) -> float:
    """Apply one audience through the webhook's queue (``process_delivery``); its seconds."""
    from django.conf import settings

    from cdp_bridge.models import WebhookDelivery
    from cdp_bridge.webhook.queue import process_delivery

    audience: dict[str, Any] = {"id": audience_id, "sync": sync, **fields}
    if sync == "full":
        audience["members"] = [str(pk) for pk in user_ids]
    body = json.dumps({"segment_group_identifier": settings.GROUP, "audiences": [audience]})
    queued = WebhookDelivery.objects.create(
        client_id=settings.CLIENT_ID,
        scope="default",
        status="queued",
        segment_group_identifier=settings.GROUP,
        body=body,
        idempotency_key=f"bench-{time.time()}-{random.random()}",
    )
    start = time.perf_counter()
    record = process_delivery(queued.pk)
    elapsed = time.perf_counter() - start
    assert record is not None and record.status == "applied", record and record.error
    return elapsed


def bare_copy(segment_id: int, user_ids: list[int]) -> float:
    """The floor: the same rows straight into the table by COPY, committed; its seconds."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {MEMBERSHIPS} (segment_id, user_id) FROM STDIN") as copy,
    ):
        copy.write("".join(f"{segment_id}\t{pk}\n" for pk in user_ids))
    return time.perf_counter() - start


@contextmanager
def floor_segment() -> Iterator[int]:
    """A segment of its own group for the bare COPY, removed afterwards with its rows."""
    from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership

    group = SegmentGroup.objects.create(identifier=f"floor-{time.time_ns()}", name="floor")
    segment = Segment.objects.create(group=group, identifier="floor")
    try:
        yield segment.pk
    finally:
        SegmentMembership.objects.filter(segment=segment).delete()
        segment.delete()
        group.delete()


def ensure_users(count: int) -> list[int]:
    """Primary keys of ``count`` users, creating the missing ones in bulk."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    missing = count - User.objects.count()
    if missing > 0:
        start = time.perf_counter()
        first = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        with transaction.atomic():
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    "COPY auth_user (id, password, is_superuser, username, first_name, "
                    "last_name, email, is_staff, is_active, date_joined) FROM STDIN"
                ) as copy,
            ):
                copy.write(
                    "".join(
                        f"{pk}\t!\tf\tbench{pk}\t\t\t\tf\tt\t2026-01-01 00:00:00+00\n"
                        for pk in range(first, first + missing)
                    )
                )
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), %s)",
                    [first + missing],
                )
                cursor.execute("ANALYZE auth_user")  # the site's users are not what is measured
        print(f"created {missing} users in {time.perf_counter() - start:.1f} s")
    return list(User.objects.order_by("pk").values_list("pk", flat=True)[:count])


# -- 1. latency with concurrent senders ------------------------------------------------------------


def latency(server: str, args: argparse.Namespace, members: list[int]) -> None:
    import requests
    from django.conf import settings

    port = free_port()
    url = f"http://127.0.0.1:{port}/cdp/webhook"
    auth = (settings.CLIENT_ID, settings.CLIENT_SECRET)
    with running(server, port, args.workers):
        wait_for(url, auth)

        def head(sender: int, number: int) -> tuple[requests.Response, dict[str, Any] | None]:
            return requests.head(url, auth=auth, timeout=120), None

        def small_delivery(sender: int, number: int) -> tuple[requests.Response, dict[str, Any]]:
            chosen = random.Random(sender * 1000 + number).sample(members, 50)
            body = {
                "segment_group_identifier": settings.GROUP,
                "audiences": [
                    {
                        "id": f"small-{server}-{sender}",
                        "sync": "full",
                        "sequence": number,
                        "members": [str(pk) for pk in chosen],
                    }
                ],
            }
            return requests.post(url, json=body, auth=auth, timeout=120), body

        def delta_of_the_audience(sender: int, number: int) -> tuple[requests.Response, Any]:
            chosen = [str(pk) for pk in random.Random(-sender * 1000 - number).sample(members, 50)]
            delta = {"id": "audience", "sync": "delta", "added": chosen[:25]}
            body = {
                "segment_group_identifier": settings.GROUP,
                "audiences": [{**delta, "removed": chosen[25:]}],
            }
            return requests.post(url, json=body, auth=auth, timeout=120), body

        heads = run_concurrently(head, args.senders, args.requests)
        head_p50, head_p99 = percentiles(heads)
        print(f"{server}: {args.senders} concurrent senders, {len(heads)} requests each kind:")
        print(f"  authenticated HEAD: p50 {head_p50 * 1e3:.1f} ms, p99 {head_p99 * 1e3:.1f} ms")
        for label, kind in [
            ("a full audience of 50 members, one per sender", small_delivery),
            (f"a delta of 50 members of the {len(members)}-member audience", delta_of_the_audience),
        ]:
            p50, p99 = percentiles(run_concurrently(kind, args.senders, args.requests))
            print(
                f"  {label}: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
                f"{p99 / head_p99:.2f} x the HEAD p99 (target <= 8)"
            )
        mixed, elapsed, answers = mixed_deliveries(url, auth, args.senders, args.mixed, members)
    mixed_p50, mixed_p99 = percentiles(mixed)
    print(
        f"  {len(mixed)} mixed deliveries (snapshot parts, new segments, deltas, removals) in "
        f"{elapsed:.1f} s: p50 {mixed_p50 * 1000:.1f} ms, p99 {mixed_p99 * 1000:.1f} ms, "
        f"answers {answers} (target: all 200)"
    )


@contextmanager
def running(server: str, port: int, workers: int) -> Iterator[None]:
    """The live server, in a process of its own, with its log under benchmarks/."""
    if server == "gunicorn":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--backlog=128",
            "django.core.wsgi:get_wsgi_application()",
        ]
    else:
        command = [sys.executable, __file__, "--serve", str(port)]
    log = open(ROOT / "benchmarks" / f"webhook_{server}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait()
        log.close()


def mixed_deliveries(
    url: str, auth: tuple[str, str], senders: int, count: int, people: list[int]
) -> tuple[list[float], float, dict[int, int]]:
    """``count`` deliveries sent by ``senders`` at once: snapshot parts (each delivery also a
    delta of an audience all of them share), new segments, deltas and removals."""
    import requests
    from django.conf import settings

    from cdp_bridge.models import SnapshotPart, WebhookDelivery

    rng = random.Random(7)
    everyone = [str(pk) for pk in people[:5000]]
    group = settings.GROUP
    run = time.time_ns()
    temporary = [f"temp-{run}-{n}" for n in range(count // 5)]
    for start in range(0, len(temporary), 20):  # under bulk_async_threshold: applied at once
        setup = [
            {"id": t, "sync": "full", "members": rng.sample(everyone, 3)}
            for t in temporary[start : start + 20]
        ]
        body = {"segment_group_identifier": group, "audiences": setup}
        answer = requests.post(url, json=body, auth=auth, timeout=120)
        assert answer.status_code == 200 and answer.json()["status"] == "applied", answer.text

    def shared() -> dict[str, Any]:
        return {"id": f"shared-{run}", "sync": "delta", "added": [rng.choice(everyone)]}

    bodies: list[dict[str, Any]] = []
    for n in range(count * 3 // 10 // 3):
        for part in (1, 2, 3):
            snapshot = {"id": f"s{n}", "part": part, "parts": 3}
            members = rng.sample(everyone, 20)
            name = f"snap-{run}-{n}"
            audience = {"id": name, "sync": "full", "members": members, "snapshot": snapshot}
            bodies.append({"audiences": [audience, shared()]})
    for n in range(count * 3 // 10):
        new = {"id": f"new-{run}-{n}", "sync": "full", "members": rng.sample(everyone, 5)}
        bodies.append({"audiences": [shared(), new]})
    for identifier in temporary:
        bodies.append({"audiences": [shared()], "removed_audiences": [identifier]})
    while len(bodies) < count:
        other = {"id": f"other-{run}-{len(bodies) % 10}", "sync": "delta"}
        bodies.append({"audiences": [shared(), {**other, "added": rng.sample(everyone, 5)}]})
    rng.shuffle(bodies)
    queue = iter(bodies)
    lock = threading.Lock()

    def next_delivery(sender: int, number: int) -> tuple[requests.Response, dict[str, Any]]:
        with lock:
            body = {"segment_group_identifier": group, **next(queue)}
        return requests.post(url, json=body, auth=auth, timeout=120), body

    answers: dict[int, int] = {}
    start = time.perf_counter()
    timings = run_concurrently(next_delivery, senders, count // senders, answers)
    elapsed = time.perf_counter() - start
    pending = SnapshotPart.objects.filter(audience_identifier__startswith=f"snap-{run}-").count()
    failed = WebhookDelivery.objects.exclude(status__in=["applied", "duplicate"]).count()
    assert pending == 0 and failed == 0, f"{pending} snapshot parts left, {failed} not applied"
    return timings, elapsed, answers


def run_concurrently(
    request: Callable[[int, int], tuple[Any, Any]],
    senders: int,
    per_sender: int,
    answers: dict[int, int] | None = None,
) -> list[float]:
    """Each sender makes ``per_sender`` requests in turn; every answer must be 200.

    Each request opens its own connection: on a kept-alive one, Django's development server
    adds a fixed 40 ms to every answer (Nagle's algorithm meeting delayed ACKs), which would
    drown the work measured. ``answers`` counts the statuses, when given.
    """
    import requests

    timings: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(senders)
    statuses = answers if answers is not None else {}

    def sender(index: int) -> None:
        start_together.wait()
        for number in range(1, per_sender + 1):
            start = time.perf_counter()
            try:
                response, _ = request(index, number)
            except requests.RequestException as error:
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - start
            with lock:
                timings.append(elapsed)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=sender, args=(index,)) for index in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed ({statuses}), the first: {failures[0]}")
    return timings


def percentiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return statistics.median(timings), cuts[98]


def serve(port: int) -> None:
    """Django's threaded development server, with a listen backlog for 20 senders.

    ``runserver`` listens with a backlog of 10: with more senders connecting at once, the
    kernel drops connection attempts and each costs a one-second retry.
    """
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Server(ThreadedWSGIServer):
        request_queue_size = 128

    server = Server(("127.0.0.1", port), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, auth: tuple[str, str]) -> None:
    import requests

    for _ in range(300):
        try:
            requests.head(url, auth=auth, timeout=5)  # workers still starting on a busy machine
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise SystemExit("the live server did not start")


# -- 2. cold statistics ---------------------------------------------------------------------------


def cold(users: list[int]) -> None:
    """Deliveries planned on stale statistics, each against the same work warm, or a COPY."""
    reset()

    def resync(size: int, stale: Callable[[], None]) -> tuple[float, float]:
        """A re-sync (half the members replaced) on stale statistics, then the same warm."""
        first, second = users[:size], users[size // 2 : size + size // 2]
        stale()
        deliver("cold", first)
        cold_time = deliver("cold", second)
        deliver("cold", first)
        analyze()
        return cold_time, deliver("cold", second)

    def only_another_segment() -> None:
        truncate(then_analyze=False)
        deliver("other", users[-100:])
        analyze()

    for label, stale in [
        ("an empty membership table", truncate),
        ("a table holding only another segment", only_another_segment),
    ]:
        cold_time, warm = resync(50_000, stale)
        print(
            f"re-sync of 50000 while the statistics describe {label}: {cold_time:.2f} s, "
            f"after ANALYZE {warm:.2f} s: ratio {cold_time / warm:.2f} (target <= 3)"
        )

    size = 180_000
    recreate_membership_table()
    first = deliver("fresh", users[:size])
    again = deliver("fresh", users[size // 2 : size + size // 2])
    deliver("fresh", users[:size])
    analyze()
    warm = deliver("fresh", users[size // 2 : size + size // 2])
    recreate_membership_table()
    with floor_segment() as segment:
        floor = bare_copy(segment, users[:size])
    print(
        f"first delivery of {size} into a never-filled table: {first:.2f} s, a bare COPY "
        f"{floor:.2f} s: ratio {first / floor:.2f} (target <= 3); the re-sync after it "
        f"{again:.2f} s, after ANALYZE {warm:.2f} s: ratio {again / warm:.2f} (target <= 3)"
    )

    size = 200_000
    truncate()
    with floor_segment() as segment:
        floor = bare_copy(segment, users[:size])
    truncate()
    snapshot = deliver("truncated", users[:size])
    print(
        f"full snapshot of {size} into a truncated and analysed table: {snapshot:.2f} s, "
        f"a bare COPY {floor:.2f} s: ratio {snapshot / floor:.2f} (target <= 3)"
    )


# -- 3. the bulk figures --------------------------------------------------------------------------


def bulk(n: int, users: list[int]) -> None:
    reset()
    truncate()
    members = users[:n]
    with floor_segment() as segment:
        floor = bare_copy(segment, members)
    print(f"bare COPY of {n} rows: {floor:.2f} s")

    full = deliver("bench", members, sequence=1)
    print(f"full snapshot of {n} into an empty segment: {full:.2f} s")
    changed = members[n // 100 :] + users[n : n + n // 100]
    random.Random(1).shuffle(changed)
    one_percent = deliver("bench", changed, sequence=2)
    print(f"the same snapshot with 1% changed: {one_percent:.2f} s")
    added = [str(pk) for pk in users[n + n // 100 : n + n // 100 + 5000]]
    removed = [str(pk) for pk in changed[:5000]]
    delta = deliver("bench", [], "delta", sequence=3, added=added, removed=removed)
    print(f"a delta of 10000 (5000 added, 5000 removed): {delta:.2f} s")
    print(f"ratio full snapshot / bare copy: {full / floor:.2f} (target <= 3)")
    print(f"ratio 1% change / full snapshot: {one_percent / full:.2f} (target <= 0.25)")
    print(f"ratio delta of 10000 / full snapshot: {delta / full:.3f}")


if __name__ == "__main__":
    main()
