"""A site in its own database, for tests that run real processes (cron ticks, Celery workers).

pytest-django's test database lives inside the test process (SQLite in memory) or inside
its transactions, where other processes cannot see it. A standalone site gets a database
of its own — an SQLite file, or a fresh PostgreSQL database when DATABASE_URL names a
PostgreSQL server — migrated by ``manage.py migrate`` in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import environ

ROOT = Path(__file__).resolve().parent.parent


class StandaloneSite:
    """Run ``manage.py`` commands and short scripts against the site's own database."""

    def __init__(self, database_url: str, settings_module: str, environment: dict[str, str]):
        self.database_url = database_url
        self.environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": str(ROOT),
            **environment,
        }

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a long-running process (a worker, a --loop) in the site's environment."""
        return subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def query(self, expression: str) -> Any:
        """Evaluate a Python expression in the site (models imported by the caller) as JSON."""
        code = (
            "import django, json; django.setup()\n"
            "from cdp_bridge.models import *  # noqa\n"
            f"print(json.dumps({expression}, default=str))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])


def standalone_site(
    tmp_path: Path,
    settings_module: str,
    environment: dict[str, str] | None = None,
    *,
    migrated: bool = True,
) -> Iterator[StandaloneSite]:
    """A site (migrated unless ``migrated=False``); its PostgreSQL database is dropped after."""
    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        config = environ.Env.db_url_config(base_url)
        name = f"cdp_standalone_{uuid.uuid4().hex[:12]}"
        admin = psycopg.connect(
            host=config["HOST"],
            port=config["PORT"] or 5432,
            user=config["USER"],
            password=config["PASSWORD"],
            dbname="postgres",
            autocommit=True,
        )
        admin.execute(f'CREATE DATABASE "{name}"')
        url = base_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        admin, name = None, ""
        url = f"sqlite:///{tmp_path / 'standalone.sqlite3'}"
    site = StandaloneSite(url, settings_module, environment or {})
    if migrated:
        migration = site.manage("migrate", "-v", "0", "--skip-checks")
        assert migration.returncode == 0, migration.stderr
    try:
        yield site
    finally:
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
