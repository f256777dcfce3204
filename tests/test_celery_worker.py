"""A real Celery worker on Redis runs an export and a queued webhook delivery."""

import json
import os
import socket
import sys
import time
import uuid

import pytest

from .standalone import standalone_site

REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.skipif(
        not REDIS_URL,
        reason="needs a Redis server for the Celery broker: set REDIS_URL "
        "(CI sets redis://127.0.0.1:6379/0)",
    ),
    pytest.mark.django_db(transaction=True),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout=60, every=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


@pytest.fixture
def site(tmp_path):
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    environment = {
        "CDP_EXPORT_DIR": str(export_dir),
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": f"cdp_bridge_tests_{uuid.uuid4().hex[:8]}",
    }
    yield from standalone_site(tmp_path, "tests.settings_standalone", environment)


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except Exception:
            process.kill()


def test_a_real_worker_runs_an_export_and_a_queued_delivery(site, processes, tmp_path):
    prepared = site.manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import User; "
            "from cdp_bridge.models import SegmentGroup; "
            "User.objects.bulk_create([User(username=f'u{i}') for i in range(1, 251)]); "
            "SegmentGroup.objects.create(identifier='cdp_audiences', name='CDP')"
        ),
    )
    assert prepared.returncode == 0, prepared.stderr
    processes.append(start_worker(site))

    # An export, sent to the worker as a task.
    sent = site.manage(
        "shell",
        "-c",
        (
            "from cdp_bridge.tasks import stream_data; "
            "print(stream_data.delay('user', '--no-draft').id)"
        ),
    )
    assert sent.returncode == 0, sent.stderr
    assert wait_until(
        lambda: (
            site.query("list(ExportRun.objects.values_list('status', 'rows', 'draft'))")
            == [["succeeded", 250, False]]
        )
    ), "the worker did not run the export"

    # A delivery large enough to be queued (202), which the webhook hands to the worker.
    port = free_port()
    server = site.start(
        sys.executable,
        "-m",
        "django",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
        "--nothreading",
    )
    processes.append(server)
    assert wait_until(lambda: _listening(port), timeout=30), "runserver did not start"
    delivery = tmp_path / "delivery.json"
    delivery.write_text(
        json.dumps(
            {
                "segment_group_identifier": "cdp_audiences",
                "audiences": [
                    {
                        "id": "cats",
                        "name": "Cat owners",
                        "sync": "full",
                        "members": [str(i) for i in range(1, 101)],
                    }
                ],
            }
        )
    )
    posted = site.manage(
        "cdp_send_activation",
        str(delivery),
        "--url",
        f"http://127.0.0.1:{port}/cdp/webhook",
        timeout=60,
    )
    assert posted.returncode == 0, posted.stderr + posted.stdout
    assert "202" in posted.stdout or "accepted" in posted.stdout, posted.stdout
    assert wait_until(
        lambda: (
            site.query("list(WebhookDelivery.objects.values_list('status', flat=True))")
            == ["applied"]
        )
    ), site.query("list(WebhookDelivery.objects.values('status', 'error'))")
    assert site.query("SegmentMembership.objects.filter(segment__identifier='cats').count()") == 100


def test_a_real_worker_runs_the_schedule_from_the_one_beat_entry(site, processes):
    prepared = site.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.bulk_create([User(username=f'u{i}') for i in range(1, 31)])",
    )
    assert prepared.returncode == 0, prepared.stderr
    processes.append(start_worker(site))
    # What beat sends each minute: the beat entry's task, by its name, with its options.
    sent = site.manage(
        "shell",
        "-c",
        (
            "from cdp_bridge.celery import beat_schedule; "
            "from tests.celery_app import app; "
            "(entry,) = beat_schedule().values(); "
            "print(app.send_task(entry['task'], **entry['options']).id)"
        ),
    )
    assert sent.returncode == 0, sent.stderr
    assert wait_until(
        lambda: (
            site.query("list(ScheduleState.objects.values_list('last_result', flat=True))")
            == ["succeeded"]
        )
    ), site.query("list(ScheduleState.objects.values('last_result', 'last_error'))")
    assert site.query("list(ExportRun.objects.values_list('rows', 'draft'))") == [[30, False]]


def start_worker(site):
    return site.start(
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.celery_app",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "--without-gossip",
        "--without-mingle",
        "-Q",
        site.environment["CELERY_QUEUE"],
        "--loglevel=INFO",
    )


def _listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
