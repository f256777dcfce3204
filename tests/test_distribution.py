"""cdp_bridge.E060: another distribution installs files into the module cdp_bridge."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cdp_bridge.distribution import DISTRIBUTION, check_distribution

ROOT = Path(__file__).resolve().parent.parent


def install_fake_distribution(site, name, version, files):
    """Write the .dist-info that pip leaves for a distribution (no need for its files)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record = [*files, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("".join(f"{line.split(',')[0]},,\n" for line in record))
    (info / "top_level.txt").write_text("cdp_bridge\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_unrelated_cdp_bridge_package_installed_alongside_fails_manage_py_check(site):
    # What pip leaves after `pip install cdp-bridge`, the browser-automation tool.
    install_fake_distribution(
        site, "cdp-bridge", "0.1.25", ["cdp_bridge/__init__.py", "cdp_bridge/middleware.py"]
    )
    [error] = check_distribution()
    assert error.id == "cdp_bridge.E060"
    assert error.is_serious()
    assert "The distribution cdp-bridge also installs a module named cdp_bridge" in error.msg
    assert "pip uninstall cdp-bridge django-cdp-bridge" in error.hint
    # A process of its own, so the check counts only if the app registers it.
    check = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=tests.settings"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 1
    assert "(cdp_bridge.E060) The distribution cdp-bridge also installs" in check.stderr


def test_this_distribution_under_any_spelling_of_its_name_is_not_foreign(site):
    install_fake_distribution(site, "Django_CDP.Bridge", "9.9", ["cdp_bridge/__init__.py"])
    assert check_distribution() == []


def test_an_editable_install_from_before_the_rename_owns_no_files_and_passes(site):
    # `pip install -e .` under the old name left only a path hook behind.
    install_fake_distribution(
        site, "cdp-bridge", "0.1.0", ["__editable___cdp_bridge_0_1_0_finder.py"]
    )
    assert check_distribution() == []


def test_the_egg_info_a_build_leaves_in_a_checkout_lists_sources_not_installed_files(site):
    info = site / "cdp_bridge.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: cdp-bridge\nVersion: 0.1.0\n")
    (info / "SOURCES.txt").write_text("cdp_bridge/__init__.py\ncdp_bridge/middleware.py\n")
    assert check_distribution() == []


def test_the_check_knows_the_name_the_project_is_published_under():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
