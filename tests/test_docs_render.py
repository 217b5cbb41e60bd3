"""The built site shows what the Markdown claims: no literal snippet markers, no empty code blocks.

`mkdocs build --strict` passes when pymdownx.snippets does not recognise a marker (a formatter
that rewrites ``--8<--`` as ``--8 < --`` leaves it as plain text), so this test builds the site
and reads the rendered HTML of every page.
"""

import os
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# `--8<--`, `;--8<--` and the forms a formatter or the highlighter leaves (`--8 < --`).
MARKER = re.compile(r";?-\s*-\s*8\s*<\s*-\s*-")

pytestmark = pytest.mark.slow  # one docs build, about 5-60 s depending on the machine


class _CodeBlocks(HTMLParser):
    """Collects the text of every <pre> block and every inline <code> element of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pre: list[str] = []
        self.code: list[str] = []
        self._pre_depth = 0
        self._code_depth = 0
        self._pre_buf: list[str] = []
        self._code_buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre":
            self._pre_depth += 1
            if self._pre_depth == 1:
                self._pre_buf = []
        elif tag == "code":
            self._code_depth += 1
            if self._code_depth == 1:
                self._code_buf = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
            if self._pre_depth == 0:
                self.pre.append("".join(self._pre_buf))
        elif tag == "code" and self._code_depth:
            self._code_depth -= 1
            if self._code_depth == 0:
                self.code.append("".join(self._code_buf))

    def handle_data(self, data: str) -> None:
        if self._pre_depth:
            self._pre_buf.append(data)
        if self._code_depth:
            self._code_buf.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "material", "mkdocstrings"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _pages(site: Path) -> list[Path]:
    skip = {"404.html"}
    return sorted(p for p in site.rglob("*.html") if p.name not in skip and "assets" not in p.parts)


def test_every_nav_page_was_rendered(site: Path) -> None:
    pages = {p.relative_to(site).as_posix() for p in _pages(site)}
    for name in ("index.html", "extending/index.html", "getting-started/index.html"):
        assert name in pages


def test_no_literal_snippet_markers(site: Path) -> None:
    found = []
    for page in _pages(site):
        html = page.read_text(encoding="utf-8")
        text = unescape(re.sub(r"<[^>]+>", "", html))  # the highlighter splits `--8<--` into spans
        for match in MARKER.finditer(text):
            line = text[max(0, match.start() - 40) : match.end() + 60].replace("\n", " ")
            found.append(f"{page.relative_to(site)}: ...{line}...")
    assert not found, "snippet markers rendered as text (not included):\n" + "\n".join(found)


def test_no_empty_code_blocks(site: Path) -> None:
    empty = []
    for page in _pages(site):
        parser = _CodeBlocks()
        parser.feed(page.read_text(encoding="utf-8"))
        n_pre = sum(1 for block in parser.pre if not block.strip())
        n_code = sum(1 for block in parser.code if not block.strip())
        if n_pre or n_code:
            empty.append(f"{page.relative_to(site)}: {n_pre} empty <pre>, {n_code} empty <code>")
    assert not empty, "empty code blocks (a snippet that included nothing?):\n" + "\n".join(empty)


def test_included_example_code_is_on_the_extending_page(site: Path) -> None:
    """The snippets in docs/extending.md include real code from examples/."""
    html = unescape(re.sub(r"<[^>]+>", "", (site / "extending" / "index.html").read_text()))
    for script in sorted((ROOT / "examples").glob("0[234]_*.py")):
        source = script.read_text()
        decorator = re.search(r"^@\S+\.register\([^)]*\)", source, flags=re.MULTILINE)
        assert decorator, f"{script.name} has no @...register(...) line"
        assert decorator.group(0) in html, f"{script.name}'s registration is not on the page"


def test_included_sections_are_dedented(site: Path) -> None:
    """A section cut out of a function body starts at column 0 (snippets' dedent_subsections)."""
    parser = _CodeBlocks()
    parser.feed((site / "extending" / "index.html").read_text(encoding="utf-8"))
    assert parser.pre
    for block in parser.pre:
        lines = [line for line in block.splitlines() if line.strip()]
        assert min(len(line) - len(line.lstrip()) for line in lines) == 0, block
