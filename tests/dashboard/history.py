"""A known history of one scope: export runs, and webhook deliveries over several days.

The deliveries are real: posted to the webhook, queued, processed and failed as the CDP's would
be, so the segment sizes are the sync engine's own. The export runs are records as the export
writes them, with start and end times chosen so that every figure is known.
"""

from datetime import timedelta

from cdp_bridge.models import ExportRun
from cdp_bridge.webhook.queue import process_queued

from ..webhook.conftest import audience, delivery, ids, post
from .conftest import TODAY, days_ago, on


def export_run(day, hour, seconds, **fields):
    """A finished run started on ``day`` at ``hour`` UTC that took ``seconds`` (succeeded unless
    ``status`` says otherwise: a run left ``running`` would be marked interrupted by the page)."""
    fields.setdefault("status", "succeeded")
    with on(day, hour):
        run = ExportRun.objects.create(scope="default", transport="memory", **fields)
    run.finished_at = run.started_at + timedelta(seconds=seconds)
    run.save(update_fields=["finished_at"])
    return run


def record_exports():
    """Day -2: a full user export (1000 rows in 40 s) and a failed content one; day -1: a full
    user export interrupted; today: a user draft."""
    user = {"kind": "user", "source": "user", "stream_id": "user-stream-0000000001"}
    content = {"kind": "content", "source": "article", "stream_id": "content-stream-000000002"}
    export_run(days_ago(2), 2, 40, draft=False, rows=1000, status="succeeded", **user)
    export_run(days_ago(2), 3, 30, draft=False, rows=200, status="failed", **content)
    export_run(days_ago(1), 2, 60, draft=False, rows=300, status="interrupted", **user)
    export_run(TODAY, 9, 2, draft=True, rows=100, status="succeeded", **user)


def deliver_audiences(client, users, dashboard_config):
    """Day -3: applied, its duplicate, a rejected body; day -1: a delta applied, a queued
    delivery applied, one failed; today: one still queued."""
    with on(days_ago(3), 10):
        assert (
            post(
                client, delivery(audience("a", members=ids(users[:4]))), HTTP_X_CDP_DELIVERY_ID="d1"
            ).status_code
            == 200
        )
        assert (
            post(
                client, delivery(audience("a", members=ids(users[:4]))), HTTP_X_CDP_DELIVERY_ID="d1"
            ).status_code
            == 200
        )
        assert (
            post(
                client, {"segment_group_identifier": "cdp_audiences", "audiences": "all"}
            ).status_code
            == 400
        )
    with on(days_ago(1), 9):
        assert (
            post(
                client, delivery(audience("a", sync="delta", added=ids(users[4:5]), removed=[]))
            ).status_code
            == 200
        )
        assert post(client, delivery(audience("b", members=ids(users[:8])))).status_code == 202
        assert [record.status for record in process_queued()] == ["applied"]
        assert post(client, delivery(audience("c", members=ids(users[:6])))).status_code == 202
        dashboard_config(system={"default": {"cdp": {"activations": []}}})  # the activation went
        assert [record.status for record in process_queued()] == ["failed"]
        dashboard_config()
    with on(TODAY, 8):
        assert post(client, delivery(audience("b", members=ids(users[:7])))).status_code == 202
