"""Checks of a built site's pages that a reader would notice: run by the tests on the smoke book, and
by hand on a full build (`python tests/pagecheck.py book/_build/html`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from bs4 import BeautifulSoup

PROGRESS_BAR = re.compile(r"\d+%\||\|\s*\d+/\d+ \[|it/s\]|s/it\]|█")
RAW_MYST = ("{cite", "{prf:", ":::{", "```{", "{admonition}")


def _visible(page: str) -> tuple[BeautifulSoup, str]:
    """The page, and its HTML without the data of embedded images (base64 may contain anything)."""
    soup = BeautifulSoup(page, "html.parser")
    for img in soup.find_all("img"):
        if img.get("src", "").startswith("data:"):
            img["src"] = "data:"
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
    return problems


if __name__ == "__main__":
    site = Path(sys.argv[1])
    root = site.resolve().parents[2]
    found = page_problems(site, ["/tmp/", str(root), str(Path.home()) + "/"])
    print("\n".join(found) or f"{len(list(site.rglob('*.html')))} pages: no problems")
    sys.exit(1 if found else 0)
