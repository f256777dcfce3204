import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from cdp_bridge import conf

GOOD_SECRET = "k3Vq9-rT2wXy7Zp4LmN8bC6dF0gH1jS5"
OTHER_SECRET = "Pz8wQ2eR5tY7uI9oA1sD3fG6hJ4kL0xC"
STREAM_ID = "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"


@pytest.fixture
def cdp_config(settings):
    """Set CDP_BRIDGE for one test; returns a function taking the dict."""

    def configure(value):
        settings.CDP_BRIDGE = value
        return conf.inspect_settings()

    yield configure
    conf.reload()


def needs_postgresql(why):
    """A mark that skips a test on SQLite, saying ``why`` it needs PostgreSQL (CI runs it)."""
    return pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"{why}: set DATABASE_URL to a PostgreSQL database",
    )


def problems_by_id(report):
    return {problem.check_id: problem for problem in report.problems}


# -- the example site, run as a user runs it ---------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
EXAMPLE_ENVIRONMENT = {
    "CDP_ACCOUNT_NUMBER": "123456",
    "CDP_EXPORT_TRANSPORT": "file",
    "CDP_USER_STREAM_ID": "00000000-00000000-00000000-00000001",
    "CDP_CONTENT_STREAM_ID": "00000000-00000000-00000000-00000002",
    "CDP_PRODUCT_STREAM_ID": "00000000-00000000-00000000-00000003",
    "CDP_ACTIVATION_CLIENT_ID": "example-site",
    "CDP_ACTIVATION_CLIENT_SECRET": "a-long-random-secret-for-the-tests-0123",
}


def example_site_environment(directory, environment=EXAMPLE_ENVIRONMENT):
    """The environment of the example site on a fresh SQLite database in ``directory``."""
    env_file = directory / "empty.env"  # so that a developer's own .env plays no part
    env_file.write_text("")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CDP_", "DJANGO_"))}
    return (
        base
        | environment
        | {
            "DJANGO_ENV_FILE": str(env_file),
            "DATABASE_URL": f"sqlite:///{directory / 'example.sqlite3'}",
        }
    )


def run_example_manage(environment, *args):
    """Run the example's manage.py with ``args``; the finished process, output captured."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- the signals, heard as a site's receiver hears them -----------------------------------------


class Heard:
    """What a receiver connected to each of cdp_bridge's signals was sent, in order.

    Each call is kept as ``(signal name, sender, keyword arguments)``.
    """

    def __init__(self):
        from cdp_bridge import signals

        self.calls = []
        self.signals = [
            signals.delivery_applied,
            signals.delivery_failed,
            signals.export_finished,
            signals.segment_group_locked,
        ]
        for signal in self.signals:
            signal.connect(self.receive, dispatch_uid="tests-heard")

    def receive(self, signal, sender, **kwargs):
        self.calls.append((signal.name, sender, kwargs))

    def of(self, name):
        """The keyword arguments of each time ``name`` was sent."""
        return [kwargs for signal, _, kwargs in self.calls if signal == name]

    @property
    def names(self):
        return [signal for signal, _, _ in self.calls]

    def disconnect(self):
        for signal in self.signals:
            signal.disconnect(dispatch_uid="tests-heard")


@pytest.fixture
def heard():
    """A receiver connected to every signal of cdp_bridge.signals for one test."""
    listener = Heard()
    yield listener
    listener.disconnect()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what the block leaves to run after commit, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# -- command output in colour -------------------------------------------------------------------

ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def palette(monkeypatch):
    """The styles ``--force-color`` writes with (the default palette, whatever the environment)."""
    from django.core.management.color import color_style

    monkeypatch.delenv("DJANGO_COLORS", raising=False)
    return color_style(force_color=True)


def unstyled(text):
    return ANSI_CODE.sub("", text)


def command_output(name, *args, **options):
    """What ``manage.py name args`` writes to standard output and error, as two strings."""
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()
