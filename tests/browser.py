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


DRIVER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>layout of every page</title></head>
<body style="margin:0">
<pre id="all-reports"></pre>
<script>
const pages = %(pages)s, width = %(width)d, reports = {};
let next = 0;
function open_next() {  // two pages at a time, each in a frame as wide as a reader's window
  if (next >= pages.length) return;
  const page = pages[next++], frame = document.createElement("iframe");
  frame.style.cssText = `width:${width}px;height:1000px;border:0;display:block`;
  frame.src = page;
  document.body.appendChild(frame);
  const poll = setInterval(() => {
    const found = frame.contentDocument && frame.contentDocument.getElementById("layout-report");
    if (!found) return;
    clearInterval(poll);
    reports[page] = JSON.parse(found.textContent);
    frame.remove();
    if (Object.keys(reports).length === pages.length) {
      document.getElementById("all-reports").textContent = JSON.stringify(reports);
    } else {
      open_next();
    }
  }, 200);
}
open_next(); open_next();
</script></body></html>
"""
"""One page that opens every page of a site in turn, in a frame of the reader's width, and collects
their :data:`LAYOUT_PROBE` reports: one Chromium process for a whole site."""


def layout_reports(base: str, site, pages: list[str], width: int = 1280, timeout_s: int = 300) -> dict[str, dict]:
    """:data:`LAYOUT_PROBE`'s report of every page (paths relative to ``site``, each with the probe
    injected), from one Chromium process.

    Args:
        base: the URL ``site`` is served at.
        site: the served folder (the driver page is written into it).
        pages: the pages' paths relative to ``site``.
        width: the frame's width in CSS pixels, as a reader's window.
    """
    import html
    import json
    import re
    from pathlib import Path

    driver = Path(site) / "_layout_driver.html"
    driver.write_text(DRIVER % {"pages": json.dumps(pages), "width": width})
    budget = 30000 * len(pages)  # virtual time: the probes' waits cost no real time
    out = _dump_dom(
        f"{base}/{driver.name}", [f"--window-size={width + 40},1100", f"--virtual-time-budget={budget}"], timeout_s
    )
    found = re.search(r'<pre id="all-reports">(.+?)</pre>', out.stdout, re.S)
    if not found:
        raise RuntimeError(f"the layout driver reported nothing (exit {out.returncode}): {out.stderr[-1500:]}")
    reports = json.loads(html.unescape(found.group(1)))
    missing = sorted(set(pages) - set(reports))
    if missing:
        raise RuntimeError(f"no layout report from {missing}")
    return reports
