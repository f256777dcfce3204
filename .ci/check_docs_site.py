"""Check the built documentation site beyond what `mkdocs build --strict` checks.

Usage: python .ci/check_docs_site.py SITE_DIR   (after `mkdocs build`)

README.md's links must work where it is also read, on the package index page: a relative
link breaks there, so every link must be absolute, and a link into the documentation site
must start with mkdocs.yml's site_url and name a page, and an anchor on it, that the build
wrote to SITE_DIR. So must pyproject.toml's project URLs into the site, and its
Documentation URL must be the site_url itself.

Markdown that reads well on GitHub can still come out of MkDocs as text: a code fence or a
list item swallowed by the paragraph above it. Each page is searched for those remains.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"<pre.*?</pre>|<code.*?</code>", re.DOTALL)
# What Markdown left as text: a fence, a fence turned into inline code, a list item inside
# a paragraph (source line breaks survive in the HTML, so it starts a line).
INLINE_FENCE = re.compile(r"<code>[a-z]+\s*\n")
LEFT_AS_TEXT = {
    "a code fence left as text": re.compile(r"```|~~~"),
    "a list item run into the paragraph above it": re.compile(r"\n[ \t]*(?:\d+\.|[-*+]) \S"),
}


def readme_links() -> list[str]:
    text = FENCE.sub("", (ROOT / "README.md").read_text())
    return [inline or auto for inline, auto in LINK.findall(text)]


def site_problem(url: str, site_url: str, site: Path) -> str | None:
    """Why `url`, a link into the docs site, names nothing the build produced (or None)."""
    page, _, anchor = url.removeprefix(site_url).partition("#")
    target = site / page / "index.html" if page == "" or page.endswith("/") else site / page
    if not target.is_file():
        return f"{url}: the site has no page {target.relative_to(site)}"
    if anchor and f'id="{anchor}"' not in target.read_text():
        return f"{url}: the page has no anchor #{anchor}"
    return None


def rendering_problems(site: Path) -> list[str]:
    found = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text()
        found += [
            (page, "a code block rendered as inline code") for _ in INLINE_FENCE.finditer(html)
        ]
        text = CODE.sub("", html)
        found += [(page, what) for what, left in LEFT_AS_TEXT.items() for _ in left.finditer(text)]
    return [
        f"{page.relative_to(site)}: {what} (indent content under a list item by 3 spaces; "
        "leave a blank line after an item of several paragraphs)"
        for page, what in found
    ]


def check(site: Path) -> list[str]:
    site_url = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["site_url"]
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    problems = []
    if urls.get("Documentation") != site_url:
        problems.append(f"pyproject.toml's Documentation URL is not mkdocs.yml's {site_url}")
    links = readme_links()
    for url in links:
        if not re.match(r"https?://", url):
            problems.append(f"README.md links to {url}: use an absolute URL ({site_url}...)")
    for url in [*links, *urls.values()]:
        if url.startswith(site_url):
            problem = site_problem(url, site_url, site)
            if problem:
                problems.append(problem)
    problems += rendering_problems(site)
    into_site = sum(url.startswith(site_url) for url in links)
    print(f"README.md: {len(links)} links, {into_site} into {site_url}")
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
