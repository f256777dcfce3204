"""The dashboard page in the admin: its link, who may see it, its figures, bad input, its cost."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from cdp_bridge.models import ExportRun, SegmentSize

from ..conftest import needs_postgresql
from ..webhook.conftest import audience, delivery, ids, post
from .conftest import QUIET_SCOPE, TODAY, days_ago, on
from .history import deliver_audiences, export_run, record_exports

pytestmark = pytest.mark.django_db

URL = "/admin/cdp_bridge/dashboard/"
VIEW_ALL = ["view_exportrun", "view_webhookdelivery", "view_segment"]


@pytest.fixture
def history(client, users, dashboard_config):
    record_exports()
    deliver_audiences(client, users, dashboard_config)


def get(browser, **params):
    with on(TODAY, 12):
        return browser.get(URL, params)


def logged_in(*codenames, is_staff=True):
    user = User.objects.create_user("operator", is_staff=is_staff)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(user)
    return browser


def app_section(index_page):
    """The cdp_bridge section of the admin index."""
    content = index_page.content.decode()
    start = content.index('class="app-cdp_bridge module')
    return content[start : content.index("</table>", start)]


def test_the_url_is_the_admins(db):
    assert reverse("admin:cdp_bridge_dashboard_changelist") == URL


def test_the_admin_index_links_to_the_dashboard_in_the_apps_section(admin_client, dashboard_config):
    section = app_section(admin_client.get(reverse("admin:index")))
    assert f'<a href="{URL}">CDP dashboard</a>' in section
    assert f'href="{URL}add/"' not in section  # nothing to add


@pytest.mark.parametrize(
    "codenames",
    [VIEW_ALL, ["change_exportrun", "change_webhookdelivery", "change_segment"]],
    ids=["view", "change"],
)
def test_staff_who_may_view_what_it_shows_see_it(dashboard_config, codenames):
    browser = logged_in(*codenames)
    assert get(browser).status_code == 200
    assert f'<a href="{URL}">CDP dashboard</a>' in app_section(browser.get(reverse("admin:index")))


@pytest.mark.parametrize(
    "codenames", [[], ["view_exportrun", "view_webhookdelivery"]], ids=["none", "no segments"]
)
def test_staff_who_may_not_view_all_it_shows_are_refused(dashboard_config, codenames):
    browser = logged_in(*codenames, "view_segmentgroup")  # so the app's section is shown
    assert get(browser).status_code == 403
    assert URL not in browser.get(reverse("admin:index")).content.decode()


def test_people_who_are_not_staff_are_sent_to_log_in(dashboard_config):
    for browser in (logged_in(*VIEW_ALL, is_staff=False), Client()):
        answer = get(browser)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")


def test_the_last_export_of_each_stream_with_its_throughput(admin_client, history):
    content = get(admin_client).content.decode()
    streams = content[content.index('class="cdp-streams"') :]
    streams = streams[: streams.index("</table>")]
    rows = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr class=\"cdp-status-\w+\">(.*?)</tr>", streams, re.S)
    ]
    assert rows == [
        # kind, source, destination, mode, started, status, rows, duration, rows/s
        [
            "content",
            "article",
            "cont…0002",
            "full",
            "2026-03-28 03:00",
            "failed",
            "200",
            "30.0 s",
            "7",
        ],
        [
            "user",
            "user",
            "user…0001",
            "full",
            "2026-03-29 02:00",
            "interrupted",
            "300",
            "60.0 s",
            "5",
        ],
        [
            "user",
            "user",
            "user…0001",
            "draft",
            "2026-03-30 09:00",
            "succeeded",
            "100",
            "2.0 s",
            "50",
        ],
    ]
    assert "Configured, never exported: product" in content
    assert "Days and times are in UTC, the site's time zone." in content


def test_times_and_days_are_the_sites_time_zones(admin_client, history, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+13 in March
    content = get(admin_client).content.decode()
    assert "2026-03-30 22:00" in content  # the draft of 09:00 UTC
    assert "Days and times are in Pacific/Auckland" in content


def test_the_charts_say_what_they_show_in_words_and_in_a_table(admin_client, history):
    content = get(admin_client).content.decode()
    deliveries = chart(content, "deliveries")
    assert '<title id="deliveries-title">Webhook deliveries per day</title>' in deliveries
    assert (
        'role="img" aria-labelledby="deliveries-title" aria-describedby="deliveries-caption"'
        in deliveries
    )
    assert (
        '<span id="deliveries-caption">1 Mar to 30 Mar: applied: 3; duplicate: 1; queued: 1; '
        "failed: 1; rejected: 1. Highest on 27 Mar: 3.</span>"
    ) in content
    table = content[content.index("Webhook deliveries per day: the figures as a table") :]
    table = table[: table.index("</table>")]
    assert day_rows(table) == [
        ["27 Mar", "1", "1", "0", "0", "1", "3"],
        ["29 Mar", "2", "0", "0", "1", "0", "3"],
        ["30 Mar", "0", "0", "1", "0", "0", "1"],
    ]


def test_each_series_has_its_own_pattern_and_what_went_wrong_is_marked(admin_client, history):
    content = get(admin_client).content.decode()
    deliveries = chart(content, "deliveries")
    patterns = dict(
        re.findall(r'<pattern id="deliveries-(\w+)".*?>\s*(<rect[^>]*>\s*<?\w*)', deliveries, re.S)
    )
    assert set(patterns) == {"applied", "duplicate", "queued", "failed", "rejected"}
    legend = re.findall(
        r'fill="url\(#deliveries-(\w+)\)" stroke="[^"]+"/>\s*<text[^>]*>([^<]+)<', deliveries
    )
    assert legend == [
        (name, name) for name in ("applied", "duplicate", "queued", "failed", "rejected")
    ]
    rows = chart(content, "export-rows")
    assert "<title>28 Mar, failed runs: 1</title>" in rows  # a cross above the day's bar
    assert "<title>29 Mar, interrupted runs: 1</title>" in rows  # a triangle


def test_each_segments_size_over_the_window(admin_client, history):
    content = get(admin_client).content.decode()
    a, b = content.split('<tr>\n          <th scope="row">')[1:3]
    numbers = [re.findall(r'<td class="cdp-number">([^<]*)</td>', row)[:2] for row in (a, b)]
    assert numbers == [["5", "+1"], ["8", "0"]]  # now, and the change in the window
    assert day_rows(a) == [["27 Mar", "4"], ["29 Mar", "5"]]
    assert "From 4 on 27 Mar to 5 on 29 Mar; lowest 4 (27 Mar), highest 5 (29 Mar)." in a
    assert "8 on 29 Mar, the first size recorded." in b
    assert 'aria-labelledby="segment-0-title" aria-describedby="segment-0-caption"' in a


def test_a_scope_with_no_history_shows_an_empty_state(admin_client, history, dashboard_config):
    dashboard_config(**QUIET_SCOPE)
    answer = get(admin_client, scope="quiet")
    content = answer.content.decode()
    assert answer.status_code == 200
    assert "Nothing recorded yet" in content
    assert 'role="img"' not in content  # no chart
    assert '<a href="?scope=default">default</a>' in content  # the other scope, one click away


def test_an_unknown_scope_is_a_404_naming_the_problem(admin_client, dashboard_config):
    answer = get(admin_client, scope="nowhere")
    content = answer.content.decode()
    assert answer.status_code == 404
    assert "There is no scope &#x27;nowhere&#x27;." in content


def test_a_broken_configuration_is_shown_not_a_500(admin_client, settings):
    settings.CDP_BRIDGE = {"bulk_async_threshold": "many"}
    answer = get(admin_client)
    assert answer.status_code == 200
    assert "The CDP configuration has a problem" in answer.content.decode()
    assert "bulk_async_threshold" in answer.content.decode()


def test_chart_coordinates_are_never_written_for_a_locale(admin_client, history, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override("de"):  # a decimal comma, and a point between thousands
        content = get(admin_client).content.decode()
    charts = "".join(re.findall(r'<svg role="img".*?</svg>', content, re.S))
    numbers = re.findall(r' (?:x|y|x1|x2|y1|y2|width|height|cx|cy)="([^"]*)"', charts)
    assert numbers and all(re.fullmatch(r"-?\d+(\.\d+)?", number) for number in numbers)
    assert "30,0 s" in content and "1.000" in content  # but figures for people are


def chart(content, chart_id):
    start = content.index(f'<svg role="img" aria-labelledby="{chart_id}-title')
    return content[start : content.index("</svg>", start)]


def day_rows(table):
    return [
        re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
        for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table, re.S)
    ]


def page_queries(browser):
    with CaptureQueriesContext(connection) as queries:
        assert get(browser).status_code == 200
    return [query["sql"] for query in queries]


def test_the_page_runs_the_same_queries_whatever_the_history(
    admin_client, client, users, dashboard_config, django_assert_max_num_queries
):
    """Not a query per stream, segment or day: a month of history costs what a day does."""
    with on(days_ago(1)):
        post(client, delivery(audience("a", members=ids(users[:2]))))
    export_run(days_ago(1), 2, 10, kind="user", source="user", draft=False, rows=10)
    small = len(page_queries(admin_client))

    dashboard_config(bulk_async_threshold=1000)  # all applied at once
    for back in range(24, 1, -1):
        with on(days_ago(back)):
            audiences = [
                audience(f"s{n}", sequence=100 - back, members=ids(users[: (n + back) % 9]))
                for n in range(12)
            ]
            post(client, delivery(*audiences))
            post(client, {"segment_group_identifier": "cdp_audiences", "audiences": "all"})
        for kind, source in (("user", "user"), ("content", "article"), ("product", "product")):
            export_run(days_ago(back), 3, back, kind=kind, source=source, draft=back % 2, rows=back)
    assert SegmentSize.objects.count() > 250 and ExportRun.objects.count() > 60
    # The session, the user, interrupted runs, the last exports, runs and deliveries per day,
    # the segments (with their sizes before the window) and the window's sizes: 8.
    with django_assert_max_num_queries(8):
        get(admin_client)
    assert len(page_queries(admin_client)) == small


on_postgresql = needs_postgresql("the plans of the history's reads are PostgreSQL's")


@on_postgresql
def test_the_page_reads_the_size_history_through_its_index(admin_client, group, dashboard_config):
    """A year of history of 60 segments, 20 of them the scope's: what the page reads of it (a
    month of its segments) is looked up in the (segment, day) index, never scanned."""
    from cdp_bridge.models import Segment, SegmentGroup

    other = SegmentGroup.objects.create(identifier="elsewhere", name="Another site's")
    Segment.objects.bulk_create(
        [Segment(group=group, identifier=f"s{n}") for n in range(20)]
        + [Segment(group=other, identifier=f"o{n}") for n in range(40)]
    )
    table = SegmentSize._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, day, members, recorded_at) "  # noqa: S608
            "SELECT s.id, d::date, 1000 + s.id, d FROM cdp_bridge_segment s, "
            "generate_series(%s::date - 400, %s::date, '1 day') d",
            [TODAY, TODAY],
        )
        cursor.execute(f"ANALYZE {table}")
        reads = [sql for sql in page_queries(admin_client) if table in sql]
        assert len(reads) == 2  # the segments (each with its size before the window), the window
        plans = []
        for sql in reads:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(line for (line,) in cursor.fetchall()))
    for plan in plans:
        assert f"Seq Scan on {table}" not in plan, plan
        assert "cdp_segment_size_per_day" in plan, plan
