"""Execute the notebooks with papermill and build the Jupyter Book (strict, atomic).

``execute_notebooks`` runs every notebook of :data:`NOTEBOOKS` from ``notebooks/`` into
``book/_generated/`` with the chosen profile; ``build_book`` runs
``jupyter-book build -W -n --keep-going`` into a temporary folder and replaces
``book/_build/html`` only when the build succeeded, so a failed build never destroys the last
good site.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imbalanced_contrastive.profiles import check_profile

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


def repo_root() -> Path:
    """The repository root (the folder holding ``notebooks/`` and ``book/``)."""
    env = os.environ.get("IMBALANCED_CONTRASTIVE_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in [Path.cwd(), *here.parents]:
        if (parent / "notebooks").is_dir() and (parent / "book").is_dir():
            return parent
    raise FileNotFoundError(
        "cannot find the repository root (a folder with notebooks/ and book/); run from the "
        "repository or set IMBALANCED_CONTRASTIVE_ROOT"
    )


def execute_notebooks(
    profile: str = "quick",
    root: Path | None = None,
    output_dir: Path | None = None,
    names: list[str] | None = None,
    parameters: dict | None = None,
    notebook_parameters: dict[str, dict] | None = None,
) -> list[Path]:
    """Execute notebooks with papermill; returns the executed copies.

    Args:
        profile: ``smoke``, ``quick`` or ``paper``; passed to every notebook.
        root: repository root (found automatically).
        output_dir: where executed notebooks go (default ``book/_generated``).
        names: a subset of :data:`NOTEBOOKS`.
        parameters: extra papermill parameters for every notebook.
        notebook_parameters: extra parameters for single notebooks (``{name: {...}}``).
    """
    import papermill as pm

    check_profile(profile)
    root = root or repo_root()
    out = output_dir or root / "book" / "_generated"
    out.mkdir(parents=True, exist_ok=True)
    chosen = names or NOTEBOOKS
    unknown = [n for n in chosen if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebooks {unknown}; allowed: {NOTEBOOKS}")
    written = []
    for name in chosen:
        t0 = time.perf_counter()
        params = {"profile": profile, "output_dir": str(out), **(parameters or {}),
                  **(notebook_parameters or {}).get(name, {})}
        target = out / name
        pm.execute_notebook(
            str(root / "notebooks" / name), str(target), parameters=params, cwd=str(out),
            progress_bar=False, kernel_name="python3", report_mode=False,
        )
        print(f"executed {name} ({profile}) in {time.perf_counter() - t0:.1f} s -> {target}", flush=True)
        written.append(target)
    write_results(root, out)
    return written


def write_results(root: Path | None = None, output_dir: Path | None = None) -> Path:
    """Write ``results.md`` / ``results.csv`` from every run record of the executed notebooks
    (``<output_dir>/runs``) and the committed ``results/`` records; returns the Markdown file."""
    from imbalanced_contrastive.results_table import find_records, summarize, write_tables
    from imbalanced_contrastive.training.experiment import METHODS

    root = root or repo_root()
    out = output_dir or root / "book" / "_generated"
    rows = summarize(find_records(out / "runs", root / "results"), methods_order=list(METHODS))
    md, _ = write_tables(rows, out, stem="results")
    return md


def build_book(root: Path | None = None) -> Path:
    """Build the HTML book strictly; replace ``book/_build/html`` only on success.

    Raises:
        RuntimeError: the build failed or warned (the previous site is kept).
    """
    root = root or repo_root()
    book = root / "book"
    final = book / "_build" / "html"
    with tempfile.TemporaryDirectory(prefix="book-build-", dir=book) as tmp:
        cmd = [
            str(Path(sys.executable).with_name("jupyter-book")), "build", str(book), "-W", "-n", "--keep-going",
            "--path-output", tmp,
        ]
        t0 = time.perf_counter()
        result = subprocess.run(cmd, cwd=root)
        built = Path(tmp) / "_build" / "html"
        if result.returncode != 0 or not (built / "index.html").is_file():
            raise RuntimeError(
                f"jupyter-book build failed (exit {result.returncode}); the previous site at {final} was kept"
            )
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
