"""The example site, run as a user runs it: migrate, seed, check; and check with broken settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
ENVIRONMENT = {
    "CDP_ACCOUNT_NUMBER": "123456",
    "CDP_EXPORT_TRANSPORT": "file",
    "CDP_USER_STREAM_ID": "00000000-00000000-00000000-00000001",
    "CDP_CONTENT_STREAM_ID": "00000000-00000000-00000000-00000002",
    "CDP_PRODUCT_STREAM_ID": "00000000-00000000-00000000-00000003",
    "CDP_ACTIVATION_CLIENT_ID": "example-site",
    "CDP_ACTIVATION_CLIENT_SECRET": "a-long-random-secret-for-the-tests-0123",
}


@pytest.fixture
def manage(tmp_path):
    """Run the example's manage.py on a fresh SQLite database, with the environment given."""
    env_file = tmp_path / "empty.env"  # so that a developer's own .env plays no part
    env_file.write_text("")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CDP_", "DJANGO_"))}
    base |= {
        "DJANGO_ENV_FILE": str(env_file),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'example.sqlite3'}",
    }

    def run(*args, environment=ENVIRONMENT):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=base | environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run


def test_the_example_site_is_seeded_and_its_configuration_checks_clean(manage):
    assert manage("migrate", "-v", "0").returncode == 0
    seeded = manage("seed_demo", "--users", "300", "--products", "30", "--articles", "12")
    assert seeded.returncode == 0, seeded.stderr
    assert "users: 300 added" in seeded.stdout
    again = manage("seed_demo", "--users", "300", "--products", "30", "--articles", "12")
    assert "users: 0 added" in again.stdout  # idempotent
    checked = manage("check")
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout
    counted = manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import User; from shop.models import Product; "
            "from blog.models import Article; from cdp_bridge.models import SegmentGroup; "
            "print(User.objects.count(), User.objects.filter(profile__isnull=False).count(), "
            "Product.objects.count(), Article.objects.count(), "
            "SegmentGroup.objects.get().identifier)"
        ),
    )
    last_line = counted.stdout.strip().splitlines()[-1]
    assert last_line.split() == ["300", "300", "30", "12", "example_segment_group_identifier"]


def test_check_names_a_broken_value_with_its_yaml_key_path(manage):
    checked = manage("check", environment=ENVIRONMENT | {"CDP_USER_STREAM_ID": "not-a-stream"})
    assert checked.returncode != 0
    assert "ibexa.system.default.cdp.data_export.user_data.stream_file.stream_id" in checked.stderr
    assert "cdp_bridge.E004" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_check_names_a_missing_environment_variable_and_the_key_using_it(manage):
    environment = {k: v for k, v in ENVIRONMENT.items() if k != "CDP_ACTIVATION_CLIENT_SECRET"}
    checked = manage("check", environment=environment)
    assert checked.returncode != 0
    assert "cdp_bridge.E012" in checked.stderr
    assert "CDP_ACTIVATION_CLIENT_SECRET is not set" in checked.stderr
    assert "ibexa.system.default.cdp.activations[0].client_secret" in checked.stderr
    assert "Traceback" not in checked.stderr
