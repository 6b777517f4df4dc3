"""The books the suite reads, each executed once per test session (the fixtures in conftest.py):
the default book a reader gets (``full`` profile, nothing trained), the smoke book (every chapter
that reads data trains its smoke runs) and the site built strictly from the default book.

Which test reads which (issue #32: each expensive thing once):

* the default book: every notebook in the ``full`` profile. It is the site's source, and it serves
  the theory notebooks' run-and-figures check (their profile only sets how many random spot checks
  they draw) and the benchmark's "loads in seconds, trains nothing" check.
* the smoke book: the chapters that read data (:data:`SMOKE_NOTEBOOKS`), trained in the smoke
  profile, with a small ISIC 2018 folder in the real format.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

from build_book import NOTEBOOKS, build_book, execute_notebooks
from conftest import REPO

THEORY_NOTEBOOKS = ["10_entropy_axioms.ipynb", "11_loss_calculus.ipynb"]
"""Notebooks that read no data and train nothing: executed once, in the default book."""

SMOKE_NOTEBOOKS = [n for n in NOTEBOOKS if n not in THEORY_NOTEBOOKS]
"""The smoke book: every chapter that reads data, each training (or loading) its smoke runs."""


@contextlib.contextmanager
def without_ci():
    """`CI` unset, as a person runs `make book` (CI hides progress bars, which must stay out of the
    pages in any environment); restored afterwards."""
    ci = os.environ.pop("CI", None)
    try:
        yield
    finally:
        if ci is not None:
            os.environ["CI"] = ci


def copy_checkout(root: Path) -> None:
    """The parts of the checkout a book build reads: notebooks, book sources, committed records."""
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_build", "_generated"))
    shutil.copytree(REPO / "results", root / "results")


def execute_default_book(root: Path) -> list[Path]:
    """The book a reader gets, executed as `make book` executes it: the default (``full``) profile
    on this CPU, with an empty runs folder and `CI` unset."""
    copy_checkout(root)
    with without_ci():
        return execute_notebooks(root=root)


def execute_smoke_book(root: Path) -> list[Path]:
    """The smoke book, executed as a person runs `make book PROFILE=smoke`, `CI` unset; what the
    build prints is kept in ``<root>/build.log``."""
    from data.test_other_sources import write_isic

    copy_checkout(root)
    isic = root / "isic"
    write_isic(isic, "Training", n_per_class=4)
    write_isic(isic, "Validation", n_per_class=2)
    terminal = io.StringIO()
    try:  # the ISIC folder relative to the notebooks' working folder, as a reader would pass it
        with without_ci(), contextlib.redirect_stdout(terminal):
            return execute_notebooks(
                "smoke",
                root=root,
                names=SMOKE_NOTEBOOKS,
                notebook_parameters={"03_acl_isic.ipynb": {"data_dir": "../../isic"}},
            )
    finally:
        (root / "build.log").write_text(terminal.getvalue())


def build_site(root: Path) -> Path:
    """The strict Sphinx build of an executed book; returns the HTML folder."""
    return build_book(root).parent
