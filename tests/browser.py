"""Headless Chromium over a local HTTP server: the DOM of a page after its scripts ran."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(url: str, flags: list[str], timeout_s: int) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed: run `make browser` (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )


def rendered_dom(url: str, budget_ms: int = 20000, timeout_s: int = 90) -> str:
    """The DOM of ``url`` after its scripts ran (MathJax included), as HTML text."""
    out = _dump_dom(url, [f"--virtual-time-budget={budget_ms}"], timeout_s)
    if out.returncode != 0 or "<html" not in out.stdout:
        raise RuntimeError(f"chromium failed on {url} (exit {out.returncode}): {out.stderr[-2000:]}")
    return out.stdout


LAYOUT_PROBE = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const article = document.querySelector("article") || document.querySelector("main") || document.body;
  const right = article.getBoundingClientRect().right + 1;
  const found = [], reported = [];
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || el.closest("mjx-assistive-mml") || reported.some(p => p.contains(el))) continue;
    const style = getComputedStyle(el);
    const scrolls = ["auto", "scroll"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    const sticksOut = r.right > right && style.position !== "fixed";
    if (scrolls || sticksOut) {
      reported.push(el);
      found.push(`${el.tagName.toLowerCase()}.${String(el.className).split(" ")[0]} ` +
        `${scrolls ? "scrolls" : "sticks out"} (${Math.round(r.right)} > ${Math.round(right)}, ` +
        `${el.scrollWidth}/${el.clientWidth}): ${(el.textContent || "").trim().slice(0, 50)}`);
    }
  }
  const deep = (root, selector) => {  // Bokeh draws inside shadow roots
    let n = root.querySelectorAll(selector).length;
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) n += deep(el.shadowRoot, selector);
    return n;
  };
  const explorers = [...document.querySelectorAll("iframe.embedding-explorer")].map(f => {
    const d = f.contentDocument;
    return {canvas: d ? deep(d, "canvas") : -1,
            remote_scripts: d ? [...d.querySelectorAll("script[src]")].map(s => s.src) : []};
  });
  const out = document.createElement("pre");
  out.id = "layout-report";
  out.textContent = JSON.stringify({width: window.innerWidth, problems: found, explorers});
  document.body.appendChild(out);
}, 4000));
</script>
"""
"""Injected into a copy of a page: after load, lists every element of the article that needs a
horizontal scroll or sticks out of it, and what each embedding explorer rendered, as JSON in
``<pre id="layout-report">``."""


def layout_report(url: str, width: int = 1280, timeout_s: int = 120) -> dict:
    """:data:`LAYOUT_PROBE`'s report for ``url`` (a page with the probe injected) at ``width`` px."""
    import json
    import re

    out = _dump_dom(url, [f"--window-size={width},1000", "--virtual-time-budget=30000"], timeout_s)
    found = re.search(r'<pre id="layout-report">(.*?)</pre>', out.stdout, re.S)
    if not found:
        raise RuntimeError(f"no layout report from {url} (exit {out.returncode}): {out.stderr[-1500:]}")
    import html

    return json.loads(html.unescape(found.group(1)))
