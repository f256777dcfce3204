"""Check the sdist and the wheel that `python -m build` wrote, and print what the wheel holds.

Usage: python .ci/check_dist.py DIST_DIR

Fails (one line per problem) when a file git tracks under cdp_bridge/ is missing from either
archive (a template, static or locale file whose glob pyproject.toml's package-data lacks),
when the sdist carries the test suite, or when the metadata is not what the package index
and pip should see: the name, the version from cdp_bridge/__init__.py, the MIT licence with
its file, and classifiers the package index knows.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from email.parser import Parser
from pathlib import Path

from trove_classifiers import classifiers as known_classifiers

ROOT = Path(__file__).resolve().parent.parent
NAME = "django-cdp-bridge"


def source_version() -> str:
    """__version__ as written in cdp_bridge/__init__.py, the one place it is written."""
    tree = ast.parse((ROOT / "cdp_bridge" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit("cdp_bridge/__init__.py does not set __version__")


def tracked_package_files() -> set[str]:
    listing = subprocess.run(
        ["git", "ls-files", "cdp_bridge"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(listing.stdout.split())


def check(dist: Path) -> list[str]:
    version = source_version()
    stem = f"{NAME.replace('-', '_')}-{version}"
    wheel_path = dist / f"{stem}-py3-none-any.whl"
    sdist_path = dist / f"{stem}.tar.gz"
    missing = [str(path) for path in (wheel_path, sdist_path) if not path.is_file()]
    if missing:
        found = ", ".join(sorted(path.name for path in dist.iterdir()))
        return [f"expected {' and '.join(missing)}; {dist} holds: {found}"]

    problems: list[str] = []
    tracked = tracked_package_files()
    with zipfile.ZipFile(wheel_path) as wheel:
        wheel_files = set(wheel.namelist())
        metadata = Parser().parsestr(wheel.read(f"{stem}.dist-info/METADATA").decode())
    with tarfile.open(sdist_path) as sdist:
        sdist_files = {name.partition("/")[2] for name in sdist.getnames()}

    for archive, files in (("wheel", wheel_files), ("sdist", sdist_files)):
        problems += [f"{archive} lacks {path}" for path in sorted(tracked - files)]
    problems += [
        f"the wheel holds {path}, which is not part of cdp_bridge"
        for path in sorted(wheel_files)
        if not path.startswith(("cdp_bridge/", f"{stem}.dist-info/"))
    ]
    problems += [
        f"the sdist holds {path}: the test suite ships whole or not at all"
        for path in sorted(sdist_files)
        if path.startswith("tests/")
    ]
    problems += [
        f"the sdist lacks {path}"
        for path in ("LICENSE", "README.md", "pyproject.toml")
        if path not in sdist_files
    ]
    if f"{stem}.dist-info/licenses/LICENSE" not in wheel_files:
        problems.append("the wheel lacks its licence file (dist-info/licenses/LICENSE)")

    expected = {"Name": NAME, "Version": version, "License-Expression": "MIT"}
    problems += [
        f"metadata {field} is {metadata.get(field)!r}, expected {value!r}"
        for field, value in expected.items()
        if metadata.get(field) != value
    ]
    problems += [
        f"unknown classifier {classifier!r}"
        for classifier in metadata.get_all("Classifier") or []
        if classifier not in known_classifiers
    ]

    by_folder = Counter(
        "/".join(path.split("/")[:2]) if path.count("/") > 1 else path.split("/")[0]
        for path in wheel_files
    )
    print(f"{wheel_path.name}: {len(wheel_files)} files, {wheel_path.stat().st_size} bytes")
    for folder, count in sorted(by_folder.items()):
        print(f"  {count:4d}  {folder}")
    print(f"{sdist_path.name}: {len(sdist_files)} files, {sdist_path.stat().st_size} bytes")
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
