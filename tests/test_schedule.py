"""cdp_run_schedule: firing, collapse of missed runs, the lease, refusals, --list, processes."""

import re
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.test import Client
from django.utils import timezone, translation

from cdp_bridge import conf, tasks
from cdp_bridge.celery import beat_schedule
from cdp_bridge.checks import check_settings
from cdp_bridge.conf import cdp_settings
from cdp_bridge.conf.kinds import EXPORT_KINDS
from cdp_bridge.exceptions import ExportError
from cdp_bridge.export.report import summary
from cdp_bridge.models import ExportRun
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.schedule import leases
from cdp_bridge.schedule.listing import schedule_listing
from cdp_bridge.schedule.runner import run_due_entries, run_entry_by_key

from .conftest import STREAM_ID, command_output, unstyled
from .standalone import StandaloneSite, standalone_site

pytestmark = pytest.mark.django_db

TEN_PAST = datetime(2026, 11, 25, 9, 10, tzinfo=UTC)


def schedule(*entries, transport="memory"):
    return {
        "system": {
            "default": {
                "cdp": {
                    "account_number": 123456,
                    "data_export": {
                        f"{kind}_data": {
                            "transport": transport,
                            "stream_file": {"stream_id": STREAM_ID},
                        }
                        for kind in EXPORT_KINDS
                    },
                }
            }
        },
        "data_export": {"schedule": {"user": list(entries)}},
    }


@pytest.fixture
def users():
    return User.objects.bulk_create([User(username=f"user{i}") for i in range(5)])


def test_an_entry_runs_when_its_interval_fires_and_not_again_until_the_next_fire(cdp_config, users):
    cdp_config(schedule({"interval": "*/15 * * * *", "options": "--no-draft"}))
    first_seen = TEN_PAST - timedelta(minutes=1)  # the entry is new: it waits for 09:15
    assert [o.status for o in run_due_entries(first_seen)] == ["not due"]
    assert [o.status for o in run_due_entries(TEN_PAST + timedelta(minutes=5))] == ["succeeded"]
    assert [o.status for o in run_due_entries(TEN_PAST + timedelta(minutes=6))] == ["not due"]
    assert [o.status for o in run_due_entries(TEN_PAST + timedelta(minutes=20))] == ["succeeded"]
    runs = ExportRun.objects.order_by("pk")
    assert runs.count() == 2
    assert all(not run.draft and run.rows == 5 for run in runs)


def test_an_entry_reports_its_runs_summary(cdp_config, users):
    # The export is called directly: the summary comes from the run's own record.
    cdp_config(schedule({"interval": "* * * * *", "options": "--no-draft --batch-size 2"}))
    (outcome,) = run_due_entries(TEN_PAST)
    run = ExportRun.objects.get()
    assert (run.rows, run.batches, run.draft) == (5, 3, False)
    assert outcome.detail == summary(run)
    assert outcome.detail.startswith("Streamed 5 users in 3 batches to the memory outbox")


def test_missed_runs_collapse_into_one(cdp_config, users):
    cdp_config(schedule({"interval": "*/15 * * * *", "options": "--no-draft"}))
    run_due_entries(TEN_PAST)
    three_hours_later = TEN_PAST + timedelta(hours=3, minutes=1)  # 12 fires were missed
    assert [o.status for o in run_due_entries(three_hours_later)] == ["succeeded"]
    assert ExportRun.objects.count() == 1
    state = ScheduleState.objects.get()
    assert state.last_fire_time == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert state.last_result == "succeeded"


def test_an_entry_held_by_a_live_lease_is_skipped(cdp_config, users):
    cdp_config(schedule({"interval": "* * * * *"}))
    (entry,) = cdp_settings().schedule
    leases.state_of(entry, TEN_PAST)
    assert leases.claim(entry, TEN_PAST, "another-host:123", TEN_PAST)
    later = TEN_PAST + timedelta(minutes=2)
    assert [o.status for o in run_due_entries(later)] == ["busy"]
    assert ExportRun.objects.count() == 0


def test_a_crashed_runs_lease_lapses_and_the_entry_runs_again(cdp_config, users):
    cdp_config(schedule({"interval": "0 * * * *"}))
    (entry,) = cdp_settings().schedule
    leases.state_of(entry, TEN_PAST - timedelta(hours=1))  # first seen at 08:10
    fire = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert leases.claim(entry, fire, "dead-host:1", TEN_PAST)  # then the process died
    assert [o.status for o in run_due_entries(TEN_PAST + timedelta(minutes=3))] == ["busy"]
    assert ", running" in schedule_listing(TEN_PAST + timedelta(minutes=3), no_style())
    after_lapse = TEN_PAST + leases.LEASE + timedelta(minutes=1)
    assert ", interrupted" in schedule_listing(after_lapse, no_style())  # its process is gone
    assert [o.status for o in run_due_entries(after_lapse)] == ["succeeded"]
    assert ExportRun.objects.count() == 1


def test_an_entry_with_bad_options_is_refused_while_the_others_run(cdp_config, users):
    cdp_config(
        schedule(
            {"interval": "* * * * *", "options": "--no-draft --colour=blue"},
            {"interval": "* * * * *", "options": "--stream-id=not-a-stream"},
            {"interval": "* * * * *", "options": "--scope=nowhere"},
            {"interval": "* * * * *", "options": "--no-draft"},
        )
    )
    outcomes = run_due_entries(TEN_PAST)
    assert [o.status for o in outcomes] == ["refused", "refused", "refused", "succeeded"]
    assert "--colour" in outcomes[0].detail
    assert "--stream-id not-…ream is malformed" in outcomes[1].detail
    assert "'nowhere' does not exist" in outcomes[2].detail
    assert ExportRun.objects.count() == 1
    checks = [m for m in check_settings() if m.id == "cdp_bridge.E019"]
    assert [m.obj for m in checks] == [f"data_export.schedule.user[{i}].options" for i in range(3)]


def test_an_entry_with_both_draft_and_no_draft_is_refused_at_check_time_and_skipped(
    cdp_config, users
):
    cdp_config(
        schedule(
            {"interval": "* * * * *", "options": "--draft --no-draft"},
            {"interval": "* * * * *", "options": "--no-draft"},
        )
    )
    (check,) = [m for m in check_settings() if m.id == "cdp_bridge.E019"]
    assert check.obj == "data_export.schedule.user[0].options"
    assert "argument --no-draft: not allowed with argument --draft" in check.msg
    outcomes = run_due_entries(TEN_PAST)
    assert [o.status for o in outcomes] == ["refused", "succeeded"]
    assert "not allowed with argument --draft" in outcomes[0].detail
    assert ExportRun.objects.get().draft is False


MANAGE_PY_OPTIONS = [
    ("--settings=tests.settings", "--settings"),
    ("--pythonpath=/tmp", "--pythonpath"),
    ("--traceback", "--traceback"),
    ("--verbosity=2", "--verbosity"),
    ("-v 0", "--verbosity"),
    ("-v3", "--verbosity"),
    ("--verb 2", "--verbosity"),  # argparse takes a prefix for the whole name
    ("--no-color", "--no-color"),
    ("--force-color", "--force-color"),
    ("--skip-checks", "--skip-checks"),
]


@pytest.mark.parametrize(("options", "flag"), MANAGE_PY_OPTIONS)
def test_manage_py_options_in_an_entry_are_refused_naming_the_flag(
    cdp_config, users, options, flag
):
    cdp_config(
        schedule(
            {"interval": "* * * * *", "options": f"--no-draft {options}"},
            {"interval": "* * * * *", "options": "--no-draft"},
        )
    )
    (check,) = [m for m in check_settings() if m.id == "cdp_bridge.E019"]
    assert check.obj == "data_export.schedule.user[0].options"
    assert f"{flag} is an option of manage.py itself" in check.msg, check.msg
    outcomes = run_due_entries(TEN_PAST)
    assert [o.status for o in outcomes] == ["refused", "succeeded"]
    assert f"{flag} is an option of manage.py itself" in outcomes[0].detail
    assert ExportRun.objects.count() == 1
    with pytest.raises(ExportError, match=f"{flag} is an option of manage.py itself"):
        tasks.stream_data("user", options)


def test_an_entry_with_an_invalid_interval_is_skipped_and_the_others_run(cdp_config, users, caplog):
    report = cdp_config(
        schedule(
            {"interval": "61 * * * *", "options": "--no-draft"},
            {"interval": "* * * * *", "options": "--no-draft"},
            {"interval": "* * * * *", "optoins": "--no-draft"},  # a typo in a key
        )
    )
    assert {p.check_id for p in report.errors} == {"cdp_bridge.E005", "cdp_bridge.E001"}
    outcomes = run_due_entries(TEN_PAST)
    assert [(o.name, o.status) for o in outcomes] == [
        ("user[0]", "refused"),
        ("user[1]", "succeeded"),
        ("user[2]", "refused"),
    ]
    assert outcomes[0].detail.startswith(
        "data_export.schedule.user[0].interval: '61 * * * *' is not a valid crontab interval."
    )
    assert "data_export.schedule.user[2].optoins: unknown key" in outcomes[2].detail
    assert ExportRun.objects.get().rows == 5
    refusals = [r.getMessage() for r in caplog.records if r.name == "cdp_bridge.schedule"]
    assert any(m.startswith("Schedule entry user[0] refused: ") for m in refusals), refusals

    output, errors = StringIO(), StringIO()
    failed = r"2 scheduled exports did not run cleanly \(user\[0\], user\[2\]\); see the lines"
    with pytest.raises(CommandError, match=failed):
        call_command("cdp_run_schedule", stdout=output, stderr=errors)
    assert "user[0] refused: data_export.schedule.user[0].interval" in errors.getvalue()
    listing = StringIO()
    call_command("cdp_run_schedule", "--list", stdout=listing)
    blocks = listing.getvalue().split("\n\n")
    assert blocks[0].splitlines() == [
        "user[0]: not read from the configuration",
        "  REFUSED:   data_export.schedule.user[0].interval: '61 * * * *' is not a valid "
        "crontab interval. Use five crontab fields: minute hour day-of-month month "
        "day-of-week, e.g. '*/15 * * * *'.",
    ]
    assert blocks[1].startswith("user[1]: stream_user_data --no-draft (scope default)")
    assert "REFUSED:" in blocks[2]


def test_the_command_exits_non_zero_when_an_entry_fails_or_is_refused(cdp_config, users):
    cdp_config(schedule({"interval": "* * * * *", "options": "--bogus"}, {"interval": "* * * * *"}))
    failed = r"1 scheduled export did not run cleanly \(user\[0\]\); see the line above"
    with pytest.raises(CommandError, match=failed):
        call_command("cdp_run_schedule", stdout=StringIO(), stderr=StringIO())


def test_list_shows_each_entry_in_words_with_last_and_next_run(cdp_config, users, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    cdp_config(
        schedule(
            {"interval": "* * * * *", "options": "--no-draft"},
            {"interval": "30 2 * * *", "options": "--unknown"},
        )
    )

    def listing():
        output = StringIO()
        call_command("cdp_run_schedule", "--list", stdout=output)
        return output.getvalue()

    before = listing()
    assert "user[0]: stream_user_data --no-draft (scope default)" in before
    assert "* * * * * (every minute)" in before
    assert "last run:  never" in before
    assert "30 2 * * * (every day at 02:30, Europe/Berlin time)" in before
    assert "next run:  " in before and ("CET" in before or "CEST" in before)
    assert "REFUSED:" in before and "--unknown" in before
    run_due_entries()
    after = listing().split("\n\n")
    assert re.search(r"last run:  \d{4}-\d\d-\d\d \d\d:\d\d CES?T, succeeded", after[0])
    assert "last run:  never" in after[1]


@pytest.fixture
def cron_site(tmp_path):
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    yield from standalone_site(
        tmp_path, "tests.settings_standalone", {"CDP_EXPORT_DIR": str(export_dir)}
    )


@pytest.mark.django_db(transaction=True)
def test_two_processes_started_together_run_an_entry_once(cron_site):
    seeded = cron_site.manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import User; "
            "User.objects.bulk_create([User(username=f'u{i}') for i in range(3000)])"
        ),
    )
    assert seeded.returncode == 0, seeded.stderr
    ticks = [
        cron_site.start(sys.executable, "-m", "django", "cdp_run_schedule", "-v", "2")
        for _ in range(2)
    ]
    outputs = [tick.communicate(timeout=120)[0] for tick in ticks]
    assert all(tick.returncode == 0 for tick in ticks), outputs
    statuses = sorted(
        line.removeprefix("user[0] ").split(":")[0]
        for output in outputs
        for line in output.splitlines()
        if line.startswith("user[0] ")
    )
    assert statuses in (["not due", "succeeded"], ["busy", "succeeded"]), outputs
    assert cron_site.query("ExportRun.objects.count()") == 1
    assert cron_site.query("ExportRun.objects.get().rows") == 3000


def test_beat_schedule_is_one_entry_running_the_schedule_every_minute():
    from celery.schedules import crontab

    from .celery_app import app

    (entry,) = beat_schedule().values()
    assert entry["schedule"] == crontab()  # every minute
    assert entry["schedule"].minute == set(range(60))
    assert app.tasks[entry["task"]].name == tasks.run_schedule.name  # a task workers have
    assert entry["options"]["expires"] < 60  # a tick left waiting is dropped, not piled up


def test_the_beat_task_reads_the_schedule_afresh_each_minute(
    settings, tmp_path, users, monkeypatch
):
    """Beat is never restarted here: each tick sees the YAML file as it is then."""
    from cdp_bridge.conf import load_yaml

    from .celery_app import app

    config = tmp_path / "cdp.yaml"

    def write_schedule(*entries):
        entry = "                -   interval: '%s'\n                    options: '--no-draft'\n"
        lines = "".join(entry % interval for interval in entries)
        config.write_text(
            "ibexa:\n    system:\n        default:\n            cdp:\n"
            "                account_number: 123456\n"
            "                data_export:\n                    user_data:\n"
            "                        transport: memory\n"
            "ibexa_cdp:\n    data_export:\n        schedule:\n            user:\n" + lines
        )

    settings.CDP_BRIDGE = load_yaml(config)
    clock = {"now": TEN_PAST}
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock["now"])
    (entry,) = beat_schedule().values()
    tick_task = app.tasks[entry["task"]]

    def tick():
        """Beat's message at the next minute, run by a worker (eagerly, here)."""
        clock["now"] += timedelta(minutes=1)
        return tick_task.apply().get()

    write_schedule("*/30 * * * *")
    assert tick() == ["user[0] not due"]  # 09:11: first seen, due at 09:30
    write_schedule("*/30 * * * *", "* * * * *")  # an entry added: it runs at 09:12
    assert [line.split(":")[0] for line in tick()] == ["user[0] not due", "user[1] succeeded"]
    write_schedule("*/30 * * * *")  # the entry removed: it never fires again
    assert tick() == ["user[0] not due"]
    assert ExportRun.objects.count() == 1
    write_schedule("*/2 * * * *")  # the interval changed: it fires on its new one, at 09:14
    assert [line.split(":")[0] for line in tick()] == ["user[0] succeeded"]
    assert ExportRun.objects.count() == 2
    conf.reload()


def test_the_scheduled_export_task_claims_its_entry_like_cron(cdp_config, users):
    cdp_config(schedule({"interval": "* * * * *", "options": "--no-draft"}))
    (entry,) = cdp_settings().schedule
    key = entry.key
    assert tasks.run_schedule_entry(key).startswith("succeeded: Streamed 5 users")
    claimed = ScheduleState.objects.get(entry_key=key).last_fire_time
    # The same fire, announced again (a second beat, a resent message), runs nothing.
    assert run_entry_by_key(key, now=claimed + timedelta(seconds=30)).status == "not due"
    assert tasks.run_schedule_entry("no-such-key").startswith("no such entry")
    assert ExportRun.objects.count() == 1


def test_the_stream_data_task_runs_an_export_from_an_options_string(cdp_config, users):
    cdp_config(schedule())
    assert tasks.stream_data("user", "--no-draft").startswith("Streamed 5 users in 1 batch")
    with pytest.raises(ExportError, match="unrecognized arguments: --colour"):
        tasks.stream_data("user", "--colour=blue")
    assert list(ExportRun.objects.values_list("draft", flat=True)) == [False]


@pytest.mark.django_db(transaction=True)
def test_loop_runs_the_schedule_and_stops_cleanly_on_sigterm(cron_site):
    loop = cron_site.start(sys.executable, "-m", "django", "cdp_run_schedule", "--loop")
    try:
        deadline = time.monotonic() + 60
        while cron_site.query("ExportRun.objects.count()") == 0:
            assert time.monotonic() < deadline, "the loop did not run the due entry"
            time.sleep(0.25)
        loop.send_signal(signal.SIGTERM)
        output, _ = loop.communicate(timeout=30)
    finally:
        loop.kill()
    assert loop.returncode == 0, output
    assert "Running the schedule every minute" in output
    assert "user[0] succeeded" in output
    assert output.rstrip().endswith("Stopped.")
    # A minute boundary may pass before SIGTERM arrives: the entry then runs again, once more.
    statuses = "sorted(set(ExportRun.objects.values_list('status', flat=True)))"
    assert cron_site.query(statuses) == ["succeeded"]


@pytest.mark.parametrize(
    "night",
    [
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # Berlin skips 02:00-03:00
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),  # Berlin repeats 02:00-03:00
    ],
)
def test_a_tick_every_minute_through_a_dst_night_runs_a_0230_entry_once(
    cdp_config, users, settings, night
):
    settings.TIME_ZONE = "Europe/Berlin"
    cdp_config(schedule({"interval": "30 2 * * *", "options": "--no-draft"}))
    for minute in range(5 * 60):
        run_due_entries(night + timedelta(minutes=minute))
    assert ExportRun.objects.count() == 1


def test_each_entry_is_judged_at_its_own_turn_not_when_the_tick_began(
    cdp_config, users, monkeypatch
):
    cdp_config(schedule({"interval": "* * * * *"}, {"interval": "* * * * *"}))
    clock = {"now": TEN_PAST}
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock["now"])

    def slow_export(name, options):
        clock["now"] += timedelta(minutes=12)  # longer than a lease
        return ScheduleState.Result.SUCCEEDED, "exported"

    monkeypatch.setattr("cdp_bridge.schedule.runner._export", slow_export)
    for entry in cdp_settings().schedule:
        leases.state_of(entry, TEN_PAST - timedelta(minutes=5))
    assert [o.status for o in run_due_entries()] == ["succeeded", "succeeded"]
    second = ScheduleState.objects.get(entry_key=cdp_settings().schedule[1].key)
    # The second entry started after the first's 12 minutes, and claimed the fire of that time.
    assert second.last_started_at == TEN_PAST + timedelta(minutes=12)
    assert second.last_fire_time == TEN_PAST + timedelta(minutes=12)


@pytest.mark.parametrize("options", ["--help", "--version"])
def test_options_that_only_print_help_are_refused(cdp_config, users, options):
    cdp_config(schedule({"interval": "* * * * *", "options": options}))
    (outcome,) = run_due_entries(TEN_PAST)
    assert outcome.status == "refused"
    assert "help or version" in outcome.detail
    assert [m.id for m in check_settings() if m.id == "cdp_bridge.E019"] == ["cdp_bridge.E019"]


def test_the_schedule_needs_aware_times(cdp_config, settings):
    settings.USE_TZ = False
    cdp_config(schedule({"interval": "* * * * *"}))
    assert "cdp_bridge.E020" in {m.id for m in check_settings()}
    with pytest.raises(CommandError, match="USE_TZ = True"):
        call_command("cdp_run_schedule", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_bad_entry_does_not_stop_the_others_in_a_real_cron_tick(tmp_path):
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    environment = {"CDP_EXPORT_DIR": str(export_dir), "CDP_SCHEDULE_OPTIONS": "--bogus"}
    for site in standalone_site(tmp_path, "tests.settings_standalone", environment):
        tick = site.manage("cdp_run_schedule")
        assert tick.returncode == 1
        assert "user[0] refused" in tick.stderr and "--bogus" in tick.stderr
        assert "user[1] succeeded" in tick.stdout
        assert "Traceback" not in tick.stderr
        assert site.query("ExportRun.objects.count()") == 1
        listing = site.manage("cdp_run_schedule", "--list")
        assert listing.returncode == 0
        assert "REFUSED:" in listing.stdout


def test_an_unmigrated_database_is_one_clear_line(tmp_path):
    environment = {"CDP_EXPORT_DIR": str(tmp_path)}
    site = StandaloneSite(
        f"sqlite:///{tmp_path / 'empty.sqlite3'}", "tests.settings_standalone", environment
    )
    for command in (
        ["cdp_run_schedule"],
        ["cdp_run_schedule", "--list"],
        ["cdp_process_deliveries"],
    ):
        result = site.manage(*command)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stderr, result.stderr
        assert "run manage.py migrate" in result.stderr.lower(), result.stderr


def test_in_colour_successes_refusals_and_the_listing_are_styled(cdp_config, users, palette):
    cdp_config(
        schedule(
            {"interval": "* * * * *", "options": "--no-draft"},
            {"interval": "* * * * *", "options": "--bogus"},
        )
    )
    plain, _ = command_output("cdp_run_schedule", "--list")
    assert "REFUSED:" in plain and "\x1b[" not in plain
    listing, _ = command_output("cdp_run_schedule", "--list", force_color=True)
    (refused,) = [line for line in listing.splitlines() if "REFUSED:" in line]
    assert refused == palette.ERROR(unstyled(refused))
    run_due_entries(timezone.now() - timedelta(minutes=2))  # seen: from now on they fire
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("cdp_run_schedule", stdout=out, stderr=err, force_color=True)
    (succeeded,) = out.getvalue().splitlines()
    assert succeeded == palette.SUCCESS(unstyled(succeeded))
    assert unstyled(succeeded).startswith("user[0] succeeded: Streamed 5 users")
    (refusal,) = err.getvalue().splitlines()
    assert refusal == palette.ERROR(unstyled(refusal))
    assert unstyled(refusal).startswith("user[1] refused: ")


@pytest.mark.parametrize(
    "broken",
    [
        {"user": [{"interval": "61 * * * *", "options": "--no-draft"}]},
        {"user": "*/15 * * * *"},
    ],
    ids=["an entry", "the section"],
)
def test_a_refusal_is_logged_in_english_and_answered_in_the_active_language(
    cdp_config, users, caplog, broken
):
    config = schedule()
    config["data_export"]["schedule"] = broken
    cdp_config(config)
    with translation.override("de"):
        (outcome,) = run_due_entries(TEN_PAST)
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "cdp_bridge.schedule"]
    english = {"an entry": "is not a valid crontab interval", "the section": "must be a list"}
    assert any(text in logged for text in english.values()), logged
    assert not any(text in outcome.detail for text in english.values()), outcome.detail


BROKEN_SCHEDULES = {
    "an entry's interval": {"user": [{"interval": "61 * * * *", "options": "--no-draft"}]},
    "an entry's options": {"user": [{"interval": "* * * * *", "options": "--bogus"}]},
    "an entry that is not a mapping": {"user": ["*/15 * * * *"]},
    "a kind's entries that are not a list": {"user": "*/15 * * * *"},
    "a kind that does not exist": {"users": [{"interval": "* * * * *"}]},
    "a schedule that is not a mapping": [{"interval": "* * * * *"}],
}


@pytest.mark.parametrize("broken", BROKEN_SCHEDULES.values(), ids=BROKEN_SCHEDULES.keys())
def test_a_broken_schedule_leaves_the_webhook_and_the_exports_by_hand_working(
    cdp_config, users, broken
):
    from cdp_bridge.export.transports import outbox
    from cdp_bridge.models import SegmentGroup

    from .webhook.conftest import ACTIVATION, GROUP, audience, basic, delivery, post

    config = schedule()
    config["system"]["default"]["cdp"]["activations"] = [ACTIVATION]
    config["data_export"]["schedule"] = broken
    report = cdp_config(config)
    assert report.errors or [m for m in check_settings() if m.id == "cdp_bridge.E019"]
    SegmentGroup.objects.create(identifier=GROUP, name="CDP audiences")
    outbox.clear()

    answer = post(Client(), delivery(audience(members=[str(users[0].pk)])), auth=basic())
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "applied"
    assert "Streamed 5 users" in command_output("stream_user_data", "--no-draft")[0]
    assert sum(len(batch.rows) for batch in outbox) == 5

    # What cannot be read of the schedule is refused, saying why; the command exits non-zero.
    errors = StringIO()
    with pytest.raises(CommandError, match="did not run cleanly"):
        call_command("cdp_run_schedule", stdout=StringIO(), stderr=errors)
    (refusal,) = errors.getvalue().splitlines()
    assert re.match(r"(user\[0\]|data_export\.schedule[.a-z]*) refused: ", refusal), refusal
    assert "REFUSED:" in command_output("cdp_run_schedule", "--list")[0]
