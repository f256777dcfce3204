"""The example site, run as a user runs it: migrate, seed, check; and check with broken settings."""

import re
import shlex

import pytest

from .conftest import EXAMPLE, EXAMPLE_ENVIRONMENT, example_site_environment, run_example_manage


@pytest.fixture
def manage(tmp_path):
    """Run the example's manage.py on a fresh SQLite database, with the environment given."""

    def run(*args, environment=EXAMPLE_ENVIRONMENT):
        return run_example_manage(example_site_environment(tmp_path, environment), *args)

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
    checked = manage(
        "check", environment=EXAMPLE_ENVIRONMENT | {"CDP_USER_STREAM_ID": "not-a-stream"}
    )
    assert checked.returncode != 0
    assert "ibexa.system.default.cdp.data_export.user_data.stream_file.stream_id" in checked.stderr
    assert "cdp_bridge.E004" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_check_names_a_missing_environment_variable_and_the_key_using_it(manage):
    environment = {
        k: v for k, v in EXAMPLE_ENVIRONMENT.items() if k != "CDP_ACTIVATION_CLIENT_SECRET"
    }
    checked = manage("check", environment=environment)
    assert checked.returncode != 0
    assert "cdp_bridge.E012" in checked.stderr
    assert "CDP_ACTIVATION_CLIENT_SECRET is not set" in checked.stderr
    assert "ibexa.system.default.cdp.activations[0].client_secret" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_seed_demo_recreates_a_missing_segment_group_instead_of_failing(manage):
    assert manage("migrate", "-v", "0").returncode == 0
    deleted = manage(
        "shell",
        "-c",
        "from cdp_bridge.models import SegmentGroup; SegmentGroup.objects.all().delete()",
    )
    assert deleted.returncode == 0, deleted.stderr
    seeded = manage("seed_demo", "--users", "10", "--products", "3", "--articles", "1")
    assert seeded.returncode == 0, seeded.stderr
    assert "Traceback" not in seeded.stderr
    assert (
        "segments: segment group example_segment_group_identifier created, "
        "laptop-shoppers 4 members, lapsed-buyers 2 members"
    ) in seeded.stdout


README = EXAMPLE.parent / "README.md"


def readme_main_command_in_the_example():
    """The manage.py commands the README's main command runs inside example_project/."""
    lines = README.read_text().splitlines()
    marker = lines.index("<!-- ci:main-command -->")
    command = lines[marker + 2]
    assert lines[marker + 1] == "```bash" and lines[marker + 3] == "```"
    inside = re.search(r"\(cd example_project && (.*)\)$", command)
    assert inside, command
    return [shlex.split(step)[1:] for step in inside.group(1).split(" && ")]


def test_the_readme_main_command_ends_with_the_banner_a_member_sees(manage):
    steps = readme_main_command_in_the_example()
    assert all(step[0] == "manage.py" for step in steps)
    for step in steps:
        done = manage(*step[1:])
        assert done.returncode == 0, f"{step}: {done.stdout}{done.stderr}"
    *_, anonymous, member, see_it = done.stdout.strip().splitlines()
    assert "The site's segment group example_segment_group_identifier" in done.stdout
    assert re.search(r"laptop-shoppers \(Laptop shoppers\): 334 members", done.stdout)
    assert re.search(r"lapsed-buyers \(Lapsed buyers\): 200 members", done.stdout)
    assert anonymous == "The home page's banner for an anonymous visitor: Welcome [fallback]"
    assert member == (
        "The home page's banner for customer0000001 (segments: lapsed-buyers, laptop-shoppers): "
        "New Nimbus laptops, picked for you [laptop-shoppers]"
    )
    assert "log in as customer0000001 (password demo-password)" in see_it
