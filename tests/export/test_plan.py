"""plan_export(): from the options asked for to what is read, how, and where it goes."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.plan import ExportOptions, check_options, plan_export
from cdp_bridge.export.transports import FileTransport, MemoryTransport, StreamFileTransport
from cdp_bridge.models import ExportRun
from tests.testapp.models import Article

from ..conftest import STREAM_ID
from .conftest import ACCOUNT, recorded_run

pytestmark = pytest.mark.django_db

OTHER_STREAM = "ffffffff-eeeeeeee-dddddddd-cccccccc"


def plan(options):
    run = ExportRun.objects.create(kind=options.kind, scope=options.scope, draft=options.draft)
    return plan_export(options, run), run


def recorded(status, *, started, since=None, last_key="", draft=False):
    """An earlier run of the user stream."""
    return recorded_run(
        status, started_at=started, since=since, last_acknowledged_key=last_key, draft=draft
    )


def test_a_draft_reads_a_sample_and_a_full_export_everything(export_config):
    export_config()
    draft, _ = plan(ExportOptions("user", draft_limit=7))
    full, _ = plan(ExportOptions("user", draft=False))
    assert (draft.limit, full.limit) == (7, None)
    assert draft.batch_size == full.batch_size == 1000  # the stream's batch_size


def test_the_batch_size_and_stream_id_options_override_the_configuration(export_config):
    export_config(cdp={"data_export": {"user_data": {"batch_size": 250}}})
    configured, _ = plan(ExportOptions("user"))
    overridden, _ = plan(ExportOptions("user", batch_size=10, stream_id=OTHER_STREAM))
    assert (configured.batch_size, configured.stream_id) == (250, STREAM_ID)
    assert (overridden.batch_size, overridden.stream_id) == (10, OTHER_STREAM)


def test_the_transport_is_the_streams_with_its_retry_settings(export_config, tmp_path):
    export_config(
        cdp={
            "data_export": {
                "user_data": {"stream_file": {"retry_budget": 1800, "max_retry_after": 300}},
                "content_data": {"transport": "file", "file": {"directory": str(tmp_path)}},
                "product_data": {"transport": "memory"},
            }
        }
    )
    user_plan, user_run = plan(ExportOptions("user", draft=False))
    streaming = user_plan.open_transport(user_run)
    assert isinstance(streaming, StreamFileTransport)
    assert streaming.url.endswith(f"/stream/{ACCOUNT}")
    assert (streaming.retry.budget, streaming.retry.max_retry_after) == (1800, 300)
    assert streaming.draft is False
    content_plan, content_run = plan(ExportOptions("content"))
    files = content_plan.open_transport(content_run)
    assert isinstance(files, FileTransport)
    assert files.directory.parent == tmp_path
    assert files.directory.name.startswith(f"run-{content_run.pk:06d}-draft-")
    product_plan, product_run = plan(ExportOptions("product"))
    assert isinstance(product_plan.open_transport(product_run), MemoryTransport)


def test_since_last_starts_at_the_last_successful_full_export_of_the_stream(export_config):
    export_config()
    older = datetime(2026, 11, 1, tzinfo=UTC)
    newer = datetime(2026, 11, 20, tzinfo=UTC)
    recorded("succeeded", started=older)
    recorded("succeeded", started=newer)
    recorded("failed", started=datetime(2026, 11, 24, tzinfo=UTC))
    recorded("succeeded", started=datetime(2026, 11, 25, tzinfo=UTC), draft=True)
    export_config(
        {"sources": {"user": {"user": {"model": "auth.User", "modified_field": "last_login"}}}}
    )
    planned, _ = plan(ExportOptions("user", draft=False, since="last"))
    assert planned.since == newer


def test_resume_continues_the_latest_full_run_after_its_last_key_with_its_since(export_config):
    export_config(
        {"sources": {"user": {"user": {"model": "auth.User", "modified_field": "last_login"}}}}
    )
    ada, bob = User.objects.create(username="ada"), User.objects.create(username="bob")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    failed = recorded(
        "failed", started=datetime(2026, 11, 25, tzinfo=UTC), since=since, last_key=str(ada.pk)
    )
    planned, _ = plan(ExportOptions("user", draft=False, resume=True))
    assert planned.resumed_from == failed
    assert (planned.after, planned.since) == (ada.pk, since)
    assert bob.pk > planned.after


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ExportOptions("user", draft_limit=0), "--draft-limit must be at least 1, not 0."),
        (ExportOptions("user", batch_size=-5), "--batch-size must be at least 1, not -5."),
        (ExportOptions("user", stream_id="zz"), "--stream-id … is malformed."),
        (ExportOptions("user", resume=True), "--resume continues a full export"),
        (ExportOptions("user", draft=False, resume=True, since="last"), "leave --since out"),
        (ExportOptions("user", source="staff"), "Unknown --user-content-type 'staff'"),
        (ExportOptions("user", scope="nowhere"), "Unknown scope 'nowhere'"),
        (ExportOptions("content", since="soon"), "--since 'soon' is not a date or time"),
    ],
)
def test_each_mistake_is_found_before_a_row_is_read(export_config, options, message):
    export_config()
    with pytest.raises(ExportError) as error:
        plan(options)
    assert message in str(error.value)


def test_check_options_needs_no_configuration():
    check_options(ExportOptions("content", draft_limit=1, batch_size=1, stream_id=STREAM_ID))
    with pytest.raises(ExportError, match="malformed"):
        check_options(ExportOptions("content", stream_id=""))


def test_the_queryset_holds_the_rows_of_the_source(export_config):
    export_config(
        {
            "sources": {
                "content": {"article": {"model": "testapp.Article", "filter": {"published": True}}}
            }
        }
    )
    Article.objects.create(title="Out", published=True)
    Article.objects.create(title="Draft", published=False)
    planned, _ = plan(ExportOptions("content"))
    assert planned.model is Article
    assert [article.title for article in planned.queryset] == ["Out"]
