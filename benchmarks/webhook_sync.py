"""Benchmark of the activation webhook (SPEC §6) on the database DATABASE_URL names.

    createdb -h 127.0.0.1 -U postgres cdp_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdp_bench
    .venv/bin/python benchmarks/webhook_sync.py [--members N] [--senders 20] [--requests 25]

Prints the p50/p99 latency of an authenticated HEAD and of small deliveries (50 members) with
20 concurrent senders against a live server (Django's threaded development server); then, for
N members (default 1,000,000), a bare COPY of N (segment, user) rows into the membership
table, and through the webhook's queue (``process_delivery``: JSON, validation, sync, commit)
a full snapshot of N members into an empty segment, the same snapshot with 1% changed, and a
delta of 10,000 (5,000 added, 5,000 removed); and the ratios the targets are stated in.
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
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.webhook_settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per sender (default 25)")
    parser.add_argument("--skip-bulk", action="store_true", help="only the latency part")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    django.setup()
    if args.serve:
        serve(args.serve)
        return

    from django.core.management import call_command
    from django.db import connection

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    call_command("migrate", verbosity=0)
    # Latency first: after a million rows written and deleted, PostgreSQL spends a while
    # checkpointing and vacuuming, which would be measured instead of the webhook.
    latency(args.senders, args.requests)
    if not args.skip_bulk:
        bulk(args.members)


# -- the bulk figures ------------------------------------------------------------------------------


def bulk(n: int) -> None:
    from django.conf import settings
    from django.db import connection, transaction

    from cdp_bridge.models import Segment, SegmentGroup, SegmentMembership, WebhookDelivery
    from cdp_bridge.webhook.queue import process_delivery

    users = ensure_users(n + n // 100 + 10_000)
    group, _ = SegmentGroup.objects.get_or_create(identifier=settings.GROUP, defaults={"name": "b"})
    Segment.objects.filter(group=group).delete()
    WebhookDelivery.objects.all().delete()
    members = [str(pk) for pk in users[:n]]

    # The floor: the same rows, straight into the table.
    floor_segment = Segment.objects.create(group=group, identifier="floor")
    start = time.perf_counter()
    with transaction.atomic():
        bare_insert(floor_segment.pk, users[:n])
    floor = time.perf_counter() - start
    assert SegmentMembership.objects.filter(segment=floor_segment).count() == n
    Segment.objects.filter(pk=floor_segment.pk).delete()
    print(
        f"bare {'COPY' if connection.vendor == 'postgresql' else 'INSERT'} of {n} rows: "
        f"{floor:.2f} s"
    )

    def through_the_queue(label: str, audience: dict[str, object]) -> float:
        body = json.dumps({"segment_group_identifier": settings.GROUP, "audiences": [audience]})
        queued = WebhookDelivery.objects.create(
            client_id=settings.CLIENT_ID,
            scope="default",
            status="queued",
            segment_group_identifier=settings.GROUP,
            body=body,
            idempotency_key=f"bench-{time.time()}",
        )
        start = time.perf_counter()
        record = process_delivery(queued.pk)
        elapsed = time.perf_counter() - start
        assert record is not None and record.status == "applied", record and record.error
        result = record.result["audiences"][0]
        print(f"{label}: {elapsed:.2f} s (+{result['added']} -{result['removed']})")
        return elapsed

    full = through_the_queue(
        f"full snapshot of {n} into an empty segment",
        {"id": "bench", "sync": "full", "sequence": 1, "members": members},
    )
    changed = members[n // 100 :] + [str(pk) for pk in users[n : n + n // 100]]
    random.Random(1).shuffle(changed)
    one_percent = through_the_queue(
        "the same snapshot with 1% changed",
        {"id": "bench", "sync": "full", "sequence": 2, "members": changed},
    )
    delta = through_the_queue(
        "a delta of 10000 (5000 added, 5000 removed)",
        {
            "id": "bench",
            "sync": "delta",
            "sequence": 3,
            "added": [str(pk) for pk in users[n + n // 100 : n + n // 100 + 5000]],
            "removed": changed[:5000],
        },
    )
    print(f"ratio full snapshot / bare copy: {full / floor:.2f} (target <= 3)")
    print(f"ratio 1% change / full snapshot: {one_percent / full:.2f} (target <= 0.25)")
    print(f"ratio delta of 10000 / full snapshot: {delta / full:.3f}")
    Segment.objects.filter(group=group).delete()


def ensure_users(count: int) -> list[int]:
    """Primary keys of ``count`` users, creating the missing ones in bulk."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    missing = count - User.objects.count()
    if missing > 0:
        start = time.perf_counter()
        first = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        with transaction.atomic():
            if connection.vendor == "postgresql":
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
            else:
                User.objects.bulk_create(
                    (
                        User(pk=pk, username=f"bench{pk}", password="!")  # noqa: S106
                        for pk in range(first, first + missing)
                    ),
                    batch_size=10_000,
                )
        print(f"created {missing} users in {time.perf_counter() - start:.1f} s")
    return list(User.objects.order_by("pk").values_list("pk", flat=True)[:count])


def bare_insert(segment_id: int, user_ids: list[int]) -> None:
    from django.db import connection

    from cdp_bridge.models import SegmentMembership

    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                "COPY cdp_bridge_segmentmembership (segment_id, user_id) FROM STDIN"
            ) as copy,
        ):
            copy.write("".join(f"{segment_id}\t{pk}\n" for pk in user_ids))
    else:
        SegmentMembership.objects.bulk_create(
            (SegmentMembership(segment_id=segment_id, user_id=pk) for pk in user_ids),
            batch_size=10_000,
        )


# -- latency with concurrent senders ---------------------------------------------------------------


def latency(senders: int, per_sender: int) -> None:
    import requests
    from django.conf import settings

    from cdp_bridge.models import Segment, SegmentGroup

    group, _ = SegmentGroup.objects.get_or_create(identifier=settings.GROUP, defaults={"name": "b"})
    Segment.objects.filter(group=group).delete()
    user_ids = ensure_users(5000)
    port = free_port()
    server_log = open(ROOT / "benchmarks" / "webhook_server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    url = f"http://127.0.0.1:{port}/cdp/webhook"
    auth = (settings.CLIENT_ID, settings.CLIENT_SECRET)
    try:
        wait_for(url, auth)

        def head(sender: int, number: int) -> requests.Response:
            return requests.head(url, auth=auth, timeout=60)

        def small_delivery(sender: int, number: int) -> requests.Response:
            members = random.Random(sender * 1000 + number).sample(user_ids, 50)
            body = {
                "segment_group_identifier": settings.GROUP,
                "audiences": [
                    {
                        "id": f"small-{sender}",
                        "sync": "full",
                        "sequence": number,
                        "members": [str(pk) for pk in members],
                    }
                ],
            }
            return requests.post(url, json=body, auth=auth, timeout=60)

        heads = run_concurrently(head, senders, per_sender)
        posts = run_concurrently(small_delivery, senders, per_sender)
    finally:
        server.terminate()
        server.wait()
        server_log.close()
    head_p50, head_p99 = percentiles(heads)
    post_p50, post_p99 = percentiles(posts)
    print(f"{senders} concurrent senders, {senders * per_sender} requests each kind:")
    print(f"  authenticated HEAD:     p50 {head_p50 * 1000:.1f} ms, p99 {head_p99 * 1000:.1f} ms")
    print(f"  delivery of 50 members: p50 {post_p50 * 1000:.1f} ms, p99 {post_p99 * 1000:.1f} ms")
    print(f"ratio p99 delivery / p99 HEAD: {post_p99 / head_p99:.2f} (target <= 8)")


def run_concurrently(request, senders: int, per_sender: int) -> list[float]:
    """Each sender makes ``per_sender`` requests in turn; every answer must be 200.

    Each request opens its own connection: on a kept-alive one, Django's development server
    adds a fixed 40 ms to every answer (Nagle's algorithm meeting delayed ACKs), which would
    drown the work measured.
    """
    import requests

    timings: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(senders)

    def sender(index: int) -> None:
        start_together.wait()
        for number in range(1, per_sender + 1):
            start = time.perf_counter()
            try:
                response = request(index, number)
            except requests.RequestException as error:
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - start
            with lock:
                timings.append(elapsed)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=sender, args=(index,)) for index in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, the first: {failures[0]}")
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

    for _ in range(100):
        try:
            requests.head(url, auth=auth, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the live server did not start")


if __name__ == "__main__":
    main()
