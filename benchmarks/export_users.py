"""Benchmark: stream_user_data --no-draft against the bare floor, and its peak memory.

    python benchmarks/export_users.py [--users 1000000] [--batch-size 1000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdp_export_bench python benchmarks/...

It seeds users into the configured database (DATABASE_URL, or a SQLite file under
var/benchmarks/), starts a receiver on 127.0.0.1 in a process of its own that checks the
path and headers of every batch and counts its rows, and prints for 100,000 users and for
--users:

* the floor: the same columns read with a DB-API cursor and serialised to the same JSON
  batches, with no HTTP;
* the export: ``stream_user_data --no-draft`` posting to the receiver;
* the ratio of the two speeds (target: at least 0.5), and the export's peak RSS (target:
  under 150 MB and not growing with the number of users).

Each figure is the best of three runs, each in a fresh process. The database's users
table is emptied first: point DATABASE_URL at a scratch database.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from multiprocessing import Process, Queue
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = ROOT / "var" / "benchmarks" / "export_users.sqlite3"
ACCOUNT = 123456
STREAM_ID = "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"
SMALL = 100_000
SEED_CHUNK = 20_000
CHILD = [sys.executable, __file__, "--child"]
RUNS = 3  # each figure is the best of these: the machine may be busy with other work


def configure_django(receiver_port: int, batch_size: int) -> None:
    import django
    from django.conf import settings

    sys.path.insert(0, str(ROOT))
    import environ

    SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
    database = environ.Env().db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_FILE}")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",  # noqa: S106
        USE_TZ=True,
        DATABASES={"default": database},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "cdp_bridge",
        ],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        CDP_BRIDGE={
            "system": {
                "default": {
                    "cdp": {
                        "account_number": ACCOUNT,
                        "stream_base_url": f"http://127.0.0.1:{receiver_port}",
                        "data_export": {
                            "user_data": {
                                "transport": "stream_file",
                                "batch_size": batch_size,
                                "stream_file": {"stream_id": STREAM_ID},
                            }
                        },
                    }
                }
            }
        },
    )
    django.setup()


# -- the receiver: a process of its own, as the CDP is ----------------------------------------


def serve(port_queue: Queue[int]) -> None:
    counts = {"rows": 0, "requests": 0}

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # The headers and the body go out in two writes: without this, Nagle's algorithm
            # holds the body until the client's delayed ACK, 40 ms a request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = (
                self.path == f"/stream/{ACCOUNT}"
                and self.headers["x-streamid"] == STREAM_ID
                and body.startswith(b"[{")
                and body.endswith(b"}]")
            )
            if ok:
                # Every row is an object whose first key is "id"; inside a string the quotes
                # would be escaped. Counting them costs far less CPU than json.loads(), which
                # would take a share of this 2-core machine from the exporter being measured.
                counts["rows"] += body.count(b'{"id":')
                counts["requests"] += 1
            self.answer(200 if ok else 400, b"{}")

        def do_GET(self) -> None:  # /stats; /reset zeroes the counts first
            if self.path == "/reset":
                counts.update(rows=0, requests=0)
            self.answer(200, json.dumps(counts).encode())

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def receiver_stats(port: int, path: str = "/stats") -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


# -- seeding --------------------------------------------------------------------------------


def seed(target: int) -> None:
    """Grow the users table to ``target`` users (emptying it first when it has more)."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    existing = User.objects.count()
    if existing > target:
        User.objects.all().delete()
        existing = 0
    first = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Greta", "Hugo"]
    last = ["Berg", "Dahl", "Eriksen", "Fischer", "Hansen", "Jensen", "Keller"]
    columns = (
        "username, password, first_name, last_name, email, is_staff, is_active, "
        "is_superuser, date_joined"
    )
    for start in range(existing, target, SEED_CHUNK):
        rows = [
            (
                f"customer{n:07d}",
                "pbkdf2_sha256$benchmark",
                first[n % len(first)],
                last[n % len(last)],
                f"customer{n}@example.com",
                False,
                True,
                False,
                "2026-01-01 00:00:00+00:00",
            )
            for n in range(start, min(start + SEED_CHUNK, target))
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY auth_user ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * 9)
                cursor.executemany(f"INSERT INTO auth_user ({columns}) VALUES ({marks})", rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE auth_user")


# -- the two measured runs, each in a fresh process ----------------------------------------------


def floor(batch_size: int) -> int:
    """The same columns, read with a DB-API cursor and encoded as the same JSON batches."""
    from django.db import connection

    sent = encoded = 0
    last_id = 0
    query = (
        "SELECT id, username, email, first_name, last_name FROM auth_user "
        "WHERE id > %s ORDER BY id LIMIT %s"
    )
    with connection.cursor() as cursor:
        while True:
            cursor.execute(query, [last_id, batch_size])
            records = cursor.fetchall()
            if not records:
                break
            rows = [
                {"id": r[0], "login": r[1], "email": r[2], "name": f"{r[3]} {r[4]}".strip() or r[1]}
                for r in records
            ]
            body = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
            sent += len(rows)
            encoded += len(body)
            last_id = records[-1][0]
    return sent


def export() -> int:
    from django.core.management import call_command

    from cdp_bridge.models import ExportRun

    call_command("stream_user_data", "--no-draft", "--no-progress", verbosity=0)
    run = ExportRun.objects.latest("started_at")
    return run.rows


def child(which: str, port: int, batch_size: int) -> None:
    configure_django(port, batch_size)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Importing modules happens once per process, and is outside both timings.
    import_module("cdp_bridge.management.commands.stream_user_data")
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    rows = floor(batch_size) if which == "floor" else export()
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_before": rss_before, "peak": peak}))


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux's VmHWM).

    Not getrusage(): on Linux its ru_maxrss survives exec(), so a child started by a large
    parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def measure(which: str, port: int, batch_size: int) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(RUNS):
        receiver_stats(port, "/reset")
        result = subprocess.run(
            [*CHILD, which, "--port", str(port), "--batch-size", str(batch_size)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        figures["received"] = receiver_stats(port)["rows"]
        if best is None or figures["seconds"] < best["seconds"]:
            best = figures
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--child", choices=["floor", "export"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.port, options.batch_size)
        return

    ports: Queue[int] = Queue()
    receiver = Process(target=serve, args=(ports,), daemon=True)
    receiver.start()
    port = ports.get(timeout=10)
    configure_django(port, options.batch_size)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    name = connection.settings_dict["NAME"]
    print(f"Export benchmark on {connection.vendor} ({name}), batch size {options.batch_size}")
    header = (
        f"{'users':>9} {'floor s':>8} {'floor rows/s':>13} {'export s':>9} "
        f"{'export rows/s':>14} {'ratio':>6} {'RSS MB start':>13} {'RSS MB peak':>12} "
        f"{'received':>9}"
    )
    print(header)
    sizes = [size for size in (SMALL, options.users) if size <= options.users]
    for size in dict.fromkeys(sizes):
        seed(size)
        connection.close()
        base = measure("floor", port, options.batch_size)
        run = measure("export", port, options.batch_size)
        ratio = base["seconds"] / run["seconds"]
        print(
            f"{size:>9} {base['seconds']:>8.2f} {size / base['seconds']:>13.0f} "
            f"{run['seconds']:>9.2f} {size / run['seconds']:>14.0f} {ratio:>6.2f} "
            f"{run['rss_before']:>13.0f} {run['peak']:>12.0f} {run['received']:>9.0f}",
            flush=True,
        )
        if run["rows"] != size:
            print(f"  the export recorded {run['rows']} rows, not {size}")
    print(
        "Targets: ratio >= 0.5 (at least half the floor's speed); peak RSS under 150 MB, "
        "not growing with users."
    )
    print("'received': the rows the receiver counted in the export run shown.")
    receiver.terminate()


if __name__ == "__main__":
    main()
