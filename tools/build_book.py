"""Build the book: execute the notebooks with papermill, then build the Jupyter Book (strict, atomic).

This is the repository's build, not part of the library: it works from a checkout (found from this
file's location, or ``--root``) with the library installed in any way (``pip install -e .`` or a
wheel). ``make book`` runs ``python tools/build_book.py``.

``execute_notebooks`` runs every notebook of :data:`NOTEBOOKS` from ``notebooks/`` into
``book/_generated/`` with the chosen profile, shares one runs folder (``book/_generated/runs``,
through ``$IMBALANCED_CONTRASTIVE_RUNS``), and makes each executed notebook a clean page (its
plain-Jupyter markdown turned into MyST by :mod:`book_markdown`, no stderr). ``build_book`` runs
``jupyter-book build -W -n --keep-going`` into a temporary folder and replaces
``book/_build/html`` only when the build succeeded, so a failed build never destroys the last good
site. Progress goes to the terminal: one line per notebook and per run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from book_markdown import notebook_to_myst, theorem_labels  # noqa: E402 - tools/ is not a package

from imbalanced_contrastive.training.device import PROGRESS_ENV, PROGRESS_PREFIX  # noqa: E402
from imbalanced_contrastive.training.profiles import check_profile  # noqa: E402
from imbalanced_contrastive.training.runner import RUNS_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
"""The checkout this script belongs to."""

GENERATED_DIR = "book/_generated"
"""Where the executed notebooks, their run records (``runs/``) and figures go (git-ignored)."""

SITE_DIR = "book/_build/html"
"""Where the built site goes; the publishing workflow uploads this folder."""

NOTEBOOKS = [
    "00_data_tour.ipynb",
    "01_primer.ipynb",
    "02_acl_fmnist.ipynb",
    "03_acl_isic.ipynb",
    "04_bcl_rcl.ipynb",
    "05_rescom.ipynb",
    "06_benchmark.ipynb",
    "10_entropy_axioms.ipynb",
    "11_loss_calculus.ipynb",
]
"""Notebooks executed into the book, in reading order."""


def execute_notebooks(
    profile: str = "full",
    root: Path | None = None,
    output_dir: Path | None = None,
    names: list[str] | None = None,
    parameters: dict | None = None,
    notebook_parameters: dict[str, dict] | None = None,
) -> list[Path]:
    """Execute notebooks with papermill; returns the executed copies.

    Args:
        profile: ``smoke``, ``quick``, ``full`` or ``paper``; passed to every notebook.
        root: the checkout (default: the one holding this script).
        output_dir: where executed notebooks go (default ``book/_generated``).
        names: a subset of :data:`NOTEBOOKS`.
        parameters: extra papermill parameters for every notebook.
        notebook_parameters: extra parameters for single notebooks (``{name: {...}}``).
    """
    import papermill as pm

    check_profile(profile)
    root = root or ROOT
    out = output_dir or root / GENERATED_DIR
    out.mkdir(parents=True, exist_ok=True)
    chosen = names or NOTEBOOKS
    unknown = [n for n in chosen if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebooks {unknown}; allowed: {NOTEBOOKS}")
    labels = book_theorem_labels(root)
    written = []
    for i, name in enumerate(chosen, start=1):
        t0 = time.perf_counter()
        # output_dir is relative to the notebook's working folder, so no machine path reaches a page
        params = {
            "profile": profile,
            "output_dir": ".",
            **(parameters or {}),
            **(notebook_parameters or {}).get(name, {}),
        }
        target = out / name
        print(f"[{i}/{len(chosen)}] {name} ({profile})", flush=True)
        with _book_environment(out / "runs"):
            pm.execute_notebook(
                str(root / "notebooks" / name),
                str(target),
                parameters=params,
                cwd=str(out),
                progress_bar=False,
                kernel_name="python3",
                report_mode=False,
                stderr_file=_ProgressLines(),
                # the kernel's own notices stay out of the terminal (a "KeyboardInterrupt caught in
                # kernel" logged at ERROR on shutdown was seen once); a cell's error reaches papermill
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        prepare_for_book(target, labels)
        print(f"      done in {time.perf_counter() - t0:.1f} s -> {target}", flush=True)
        written.append(target)
    write_results(root, out)
    write_execution_statistics(root, out)
    return written


def book_theorem_labels(root: Path) -> set[str]:
    """The theorem labels of every chapter (so that one chapter may cite another's theorems)."""
    import nbformat

    labels: set[str] = set()
    for name in NOTEBOOKS:
        nb = nbformat.read(root / "notebooks" / name, as_version=4)
        labels |= theorem_labels([c.source for c in nb.cells if c.cell_type == "markdown"])
    return labels


@contextlib.contextmanager
def _book_environment(runs: Path):
    """While notebooks run: no progress bars in the kernels (one stderr line per run instead), and
    one runs folder for every chapter."""
    with mock.patch.dict(os.environ, {PROGRESS_ENV: "lines", RUNS_ENV: str(runs.resolve())}):
        yield


class _ProgressLines(io.TextIOBase):
    """papermill's ``stderr_file``: shows the kernel's progress lines in the terminal, drops the rest
    (warnings, tracebacks of handled errors); the executed notebook keeps no stderr at all."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.startswith(PROGRESS_PREFIX):
                print("      " + line.removeprefix(PROGRESS_PREFIX), flush=True)
        return len(text)


def prepare_for_book(path: Path, labels: set[str]) -> None:
    """Make an executed notebook a clean page, in place: its plain-Jupyter markdown becomes MyST
    (:mod:`book_markdown`; ``labels`` are the book's theorem labels), and stderr outputs
    (progress, warnings) are removed: the page shows narrative, code, results and figures only."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    notebook_to_myst(nb, labels)
    theory = path.name.startswith(THEORY_PREFIXES)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "injected-parameters" in tags and "remove-cell" not in tags:
                tags.append("remove-cell")  # papermill's copy of the parameters: the parameters cell shows them
            elif collapsed_input(cell.source, theory) and not {"hide-input", "remove-cell", "parameters"} & set(tags):
                tags.append("hide-input")
    nbformat.write(nb, path)


THEORY_PREFIXES = ("10_", "11_")
"""The theory chapters (sympy): their long checking cells are collapsed behind a toggle."""

COLLAPSE_LINES = 8
"""A theory cell, or a plotting cell anywhere, longer than this is collapsed (its output shown)."""


def collapsed_input(source: str, theory: bool) -> bool:
    """Whether a code cell's input is collapsed behind a toggle on the page: long cells of the
    theory chapters and long hand-written plotting cells (its output stays visible)."""
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return len(lines) > COLLAPSE_LINES and (theory or "plt." in source or ".plot(" in source)


def write_results(root: Path | None = None, output_dir: Path | None = None) -> Path:
    """Write ``results.md`` / ``results.csv`` from every run record of the executed notebooks
    (``<output_dir>/runs``) and the committed ``results/`` records; returns the Markdown file."""
    from imbalanced_contrastive.results_table import find_records, summarize, write_tables
    from imbalanced_contrastive.training.recipes import METHODS

    root = root or ROOT
    out = output_dir or root / GENERATED_DIR
    rows = summarize(find_records(out / "runs", root / "results"), methods_order=list(METHODS))
    md, _ = write_tables(rows, out, stem="results")
    return md


WORDS_PER_MINUTE = 200
"""The reading speed behind the reading times (prose and equations of a chapter's Markdown cells)."""


def chapter_words(source: Path) -> int:
    """The words of a chapter's Markdown cells (its text notebook ``notebooks/NN_name.md``)."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    return sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")


def write_execution_statistics(root: Path | None = None, output_dir: Path | None = None) -> Path:
    """Write ``execution_statistics.md``: for every executed notebook of this build, its profile,
    when it ran, how long papermill took and the chapter's reading time; returns the file."""
    import nbformat

    root = root or ROOT
    out = output_dir or root / GENERATED_DIR
    lines = [
        "| chapter | run time | reading time | profile | executed (UTC) |",
        "|---|---|---|---|---|",
    ]
    total = 0.0
    for name in NOTEBOOKS:
        path = out / name
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("papermill", {})
        seconds = float(meta.get("duration") or 0.0)
        total += seconds
        profile = meta.get("parameters", {}).get("profile", "?")
        when = str(meta.get("end_time") or "")[:16].replace("T", " ")
        title = next(
            (
                line.lstrip("# ").strip()
                for c in nb.cells
                if c.cell_type == "markdown"
                for line in c.source.splitlines()
                if line.startswith("# ")
            ),
            name,
        )
        words = chapter_words(root / "notebooks" / name)
        reading = max(1, round(words / WORDS_PER_MINUTE))
        lines.append(
            f"| {{doc}}`{title} </_generated/{Path(name).stem}>` | {seconds:,.0f} s | about {reading} min "
            f"({words:,} words) | `{profile}` | {when} |"
        )
    lines.append(f"| **all chapters** | **{total:,.0f} s** ({total / 60:.1f} min) | | | |")
    target = out / "execution_statistics.md"
    target.write_text("\n".join(lines) + "\n")
    return target


MATHJAX_PARTS = ("tex-mml-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y", "ui", "sre")


def bundle_mathjax(book: Path) -> Path:
    """Copy MathJax 3 (es5 build, from the pinned ``django-static-mathjax`` package) into
    ``book/_static/mathjax`` so that the site typesets math without a CDN; returns the folder."""
    from importlib import resources

    try:
        src = Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError as err:
        raise RuntimeError("MathJax is missing: pip install django-static-mathjax (it is in requirements.txt)") from err
    if not (src / "tex-mml-chtml.js").is_file():
        raise RuntimeError(f"no MathJax es5 build under {src}")
    dest = book / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source, target = src / part, dest / part
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def fix_launch_links(html: Path) -> int:
    """Point the Colab launch buttons at the source notebooks in ``notebooks/``.

    The book renders the papermill-executed copies in ``book/_generated`` (git-ignored), so Jupyter
    Book's launch links would name that path; users must open ``notebooks/<name>.ipynb``.
    Returns the number of pages changed.
    """
    from imbalanced_contrastive._meta import REPOSITORY_BRANCH, REPOSITORY_URL

    slug = REPOSITORY_URL.removeprefix("https://github.com/")
    replacements = [
        (
            f"colab.research.google.com/github/{slug}/blob/{REPOSITORY_BRANCH}/book/_generated/",
            f"colab.research.google.com/github/{slug}/blob/{REPOSITORY_BRANCH}/notebooks/",
        ),
    ]
    changed = 0
    for page in html.rglob("*.html"):
        text = page.read_text()
        new = text
        for old, repl in replacements:
            new = new.replace(old, repl)
        if new != text:
            page.write_text(new)
            changed += 1
    return changed


def build_book(root: Path | None = None) -> Path:
    """Build the HTML book strictly; replace ``book/_build/html`` only on success.

    Raises:
        RuntimeError: the build failed or warned (the previous site is kept).
    """
    root = root or ROOT
    book = root / "book"
    final = root / SITE_DIR
    bundle_mathjax(book)
    with tempfile.TemporaryDirectory(prefix="book-build-", dir=book) as tmp:
        cmd = [
            str(Path(sys.executable).with_name("jupyter-book")),
            "build",
            str(book),
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            tmp,
        ]
        t0 = time.perf_counter()
        result = subprocess.run(cmd, cwd=root)
        built = Path(tmp) / "_build" / "html"
        if result.returncode != 0 or not (built / "index.html").is_file():
            raise RuntimeError(
                f"jupyter-book build failed (exit {result.returncode}); the previous site at {final} was kept"
            )
        fix_launch_links(built)
        final.parent.mkdir(parents=True, exist_ok=True)
        old = final.with_name("html.old")
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            final.rename(old)
        shutil.move(str(built), str(final))
        if old.exists():
            shutil.rmtree(old)
        print(f"book built in {time.perf_counter() - t0:.1f} s -> {final / 'index.html'}", flush=True)
    return final / "index.html"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python tools/build_book.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--profile",
        default="full",
        help="full (default: the committed records, nothing trained on a CPU) | quick (trains every run on a CPU) "
        "| smoke | paper",
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help="full / paper profiles: train the chapters' runs instead of loading their committed records",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this script's)")
    parser.add_argument("--only", nargs="*", metavar="NOTEBOOK", help="execute only these notebooks (file names)")
    parser.add_argument("--execute-only", action="store_true", help="execute the notebooks, build no site")
    parser.add_argument("--skip-notebooks", action="store_true", help="build from the executed notebooks already there")
    args = parser.parse_args(argv)
    try:
        check_profile(args.profile)
        if not args.skip_notebooks:
            extra = {"train": True} if args.train else None
            execute_notebooks(args.profile, root=args.root, names=args.only or None, parameters=extra)
        if not args.execute_only:
            build_book(args.root)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
