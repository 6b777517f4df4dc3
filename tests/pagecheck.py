"""Checks of a built site's pages that a reader would notice: run by the tests on the smoke book, and
by hand on a full build (`python tests/pagecheck.py book/_build/html`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup

PROGRESS_BAR = re.compile(r"\d+%\||\|\s*\d+/\d+ \[|it/s\]|s/it\]|█")
RAW_MYST = ("{cite", "{prf:", ":::{", "```{", "{admonition}")
RAW_TEX = re.compile(
    r"\\(?:d?frac|sum|prod|partial|mathrm|mathbb|eta|gamma|tau|sigma|lambda|log|Big|big|cdot|ell)\b|\$[^$\s]"
)
"""TeX that a reader would see as source: a command or an inline ``$...`` outside typeset math."""
NOT_PROSE = ("pre", "code", "script", "style", "mjx-container", "textarea")


def _visible(page: str) -> tuple[BeautifulSoup, str]:
    """The page, and its HTML without the data of embedded images and documents (base64 may contain
    anything)."""
    soup = BeautifulSoup(page, "html.parser")
    for img in soup.find_all("img"):
        if img.get("src", "").startswith("data:"):
            img["src"] = "data:"
    for frame in soup.find_all("iframe", srcdoc=True):  # the explorer's document: Bokeh's code and base64 images
        frame["srcdoc"] = ""
    return soup, str(soup)


def page_problems(html: Path, forbidden_paths: list[str]) -> list[str]:
    """Every problem found in the site's pages: progress-bar lines, machine paths, stderr output
    blocks, raw MyST syntax, and images without alt text."""
    problems = []
    for path in sorted(html.rglob("*.html")):
        if "_static" in path.parts:
            continue
        name = path.relative_to(html)
        soup, text = _visible(path.read_text())
        bars = [line for line in soup.get_text().splitlines() if PROGRESS_BAR.search(line)]
        if bars:
            problems.append(f"{name}: {len(bars)} progress-bar lines, e.g. {bars[0][:80]!r}")
        leaks = [p for p in forbidden_paths if p in text]
        if leaks:
            problems.append(f"{name}: machine paths {leaks}")
        if soup.select(".stderr"):
            problems.append(f"{name}: a stderr output block")
        body = soup.select_one("main") or soup
        raw = [s for s in RAW_MYST if s in body.get_text()]
        if raw:
            problems.append(f"{name}: raw MyST syntax {raw}")
        for img in body.find_all("img"):
            if not img.get("alt", "").strip():
                problems.append(f"{name}: an image without alt text: {str(img)[:120]}")
        if body.select(".tag_injected-parameters"):
            problems.append(f"{name}: papermill's injected-parameters cell is shown")
        if "PosixPath(" in body.get_text():
            problems.append(f"{name}: a PosixPath(...) printed under a cell")
        tex = raw_tex(body)
        if tex:
            problems.append(f"{name}: raw TeX in prose, e.g. {tex[0]!r}")
    return problems


def raw_tex(body) -> list[str]:
    """Snippets of prose that show TeX source: the page's text outside math (``.math`` elements,
    typeset or not), code, scripts and the explorer's document."""
    soup = BeautifulSoup(str(body), "html.parser")
    for el in soup.select(".math, .MathJax, mjx-container, iframe, " + ", ".join(NOT_PROSE)):
        el.decompose()
    text = soup.get_text(" ")
    return [text[max(0, m.start() - 30) : m.end() + 30].strip() for m in RAW_TEX.finditer(text)]


if __name__ == "__main__":
    site = Path(sys.argv[1])
    root = site.resolve().parents[2]
    found = page_problems(site, ["/tmp/", str(root), str(Path.home()) + "/"])
    print("\n".join(found) or f"{len(list(site.rglob('*.html')))} pages: no problems")
    sys.exit(1 if found else 0)
