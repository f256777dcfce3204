"""Sources: the model or queryset callable, its filter, and reading in primary key order."""

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cdp_bridge import conf
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.runner import ExportOptions, run_export
from cdp_bridge.export.sources import chunks, source_queryset
from cdp_bridge.models import ExportRun

pytestmark = pytest.mark.django_db


def customers(scope):
    """A queryset callable: takes the scope, returns the users to export."""
    return User.objects.filter(username__startswith="customer", is_active=True)


def not_a_queryset(scope):
    return ["ada"]


def broken_queryset(scope):
    raise KeyError("tenant")


def test_the_filter_narrows_the_source(export_config, receiver):
    export_config(
        {"sources": {"user": {"user": {"model": "auth.User", "filter": {"is_active": True}}}}}
    )
    User.objects.create(username="active")
    User.objects.create(username="gone", is_active=False)
    run_export(ExportOptions("user"))
    assert [row["login"] for row in receiver.rows] == ["active"]


def test_a_queryset_callable_receives_the_scope(export_config, receiver):
    export_config({"sources": {"user": {"user": {"queryset": f"{__name__}.customers"}}}})
    User.objects.create(username="customer1")
    User.objects.create(username="staff")
    run_export(ExportOptions("user"))
    assert [row["login"] for row in receiver.rows] == ["customer1"]


def test_a_queryset_callable_must_return_a_queryset(cdp_config):
    cdp_config({"sources": {"user": {"user": {"queryset": f"{__name__}.not_a_queryset"}}}})
    source = conf.cdp_settings().sources_of("user")["user"]
    with pytest.raises(ExportError, match="returned list, not a QuerySet"):
        source_queryset(source, conf.get_scope())


def test_a_queryset_callable_that_raises_is_one_clear_line_and_a_failed_run(export_config):
    export_config({"sources": {"user": {"user": {"queryset": f"{__name__}.broken_queryset"}}}})
    with pytest.raises(CommandError) as raised:
        call_command("stream_user_data", "--no-draft", stdout=io.StringIO())
    assert str(raised.value) == (
        f"sources.user.user.queryset: '{__name__}.broken_queryset' raised KeyError: 'tenant'"
    )
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_a_filter_on_a_missing_field_is_a_clear_error(export_config):
    export_config({"sources": {"user": {"user": {"model": "auth.User", "filter": {"nope": 1}}}}})
    with pytest.raises(
        ExportError, match=re.escape("sources.user.user.filter: Cannot resolve keyword 'nope'")
    ):
        run_export(ExportOptions("user"))


def test_records_are_read_in_key_order_a_chunk_at_a_time():
    User.objects.bulk_create(User(username=f"user{n}") for n in range(7))
    pks = list(User.objects.order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        read = list(chunks(User.objects.all(), 3, lambda user: user.pk))
    assert [[user.pk for user in chunk] for chunk in read] == [pks[:3], pks[3:6], pks[6:]]
    assert len(queries) == 3
    assert all("LIMIT 3" in query["sql"] for query in queries.captured_queries)


def test_reading_starts_after_a_key_and_stops_at_a_limit():
    User.objects.bulk_create(User(username=f"user{n}") for n in range(7))
    pks = list(User.objects.order_by("pk").values_list("pk", flat=True))
    read = chunks(User.objects.all(), 2, lambda user: user.pk, after=pks[1], limit=3)
    assert [[user.pk for user in chunk] for chunk in read] == [pks[2:4], pks[4:5]]
