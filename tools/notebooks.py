"""Keep every chapter's two files in step: the MyST text notebook and its paired ``.ipynb``.

Chapters are written as text (``notebooks/NN_name.md``, MyST Markdown read by jupytext); Colab and
papermill open the paired, output-free ``notebooks/NN_name.ipynb``. ``make notebooks`` runs
:func:`sync`:

1. ``jupytext --sync`` brings the older file of each pair up to date with the newer one (so an
   edit made in Jupyter or Colab is kept);
2. every chapter's Colab install cell is rewritten from ``imbalanced_contrastive._meta.INSTALL_SPEC``
   (one constant holds the release the notebooks install), and the training chapters get Colab's
   GPU-runtime metadata;
   both files of a pair are rewritten, so they stay in step.

``tests/test_notebook_sources.py`` fails when a committed ``.ipynb`` differs from its text source
or an install cell from :func:`install_cell_source`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.cli import jupytext as jupytext_cli
from jupytext.config import load_jupytext_config

from imbalanced_contrastive._meta import INSTALL_SPEC, VERSION

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

INSTALL_MARKER = "# In Colab only: install the companion's library"
"""The first line of every chapter's install cell (how :func:`normalise` finds it)."""

TRAINING_CHAPTERS = ("01_primer", "02_acl_fmnist", "03_acl_isic", "04_bcl_rcl", "05_rescom", "06_benchmark")
"""Chapters that train models: Colab opens them on a GPU runtime."""

CHAPTER_NOTEBOOKS = {
    "primer": "01_primer.ipynb",
    "acl_fmnist": "02_acl_fmnist.ipynb",
    "bcl_rcl": "04_bcl_rcl.ipynb",
    "rescom": "05_rescom.ipynb",
}
"""The notebook of each chapter of ``imbalanced_contrastive.grid.CHAPTER_RUNS`` (its parameters'
defaults are that chapter's runs: a test compares them)."""

GPU_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}  # keys sorted, as in .ipynb
"""Colab's notebook metadata for a GPU runtime (the free tier's GPU is a T4)."""


def install_cell_source() -> str:
    """The Colab install cell.

    It installs the fixed release :data:`INSTALL_SPEC` unless that release is already installed;
    pip's output (errors included) stays visible; pip keeps the packages Colab already has (torch
    among them) since they satisfy the package's version ranges.
    """
    return (
        f"{INSTALL_MARKER}, release {VERSION} (skipped when it is installed).\n"
        "import importlib.metadata\n"
        "import sys\n\n"
        'installed = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}\n'
        f'if "google.colab" in sys.modules and installed.get("imbalanced-contrastive") != "{VERSION}":\n'
        f'    %pip install "{INSTALL_SPEC}"'
    )


def text_sources() -> list[Path]:
    """The chapters' text notebooks, in file-name order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))


def _sync_pairs(paths: list[Path]) -> None:
    code = jupytext_cli(["--sync", "--quiet", *map(str, paths)])
    if code:
        raise SystemExit(f"jupytext --sync failed (exit {code})")


def _normalised(nb, stem: str) -> None:
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(INSTALL_MARKER)]
    if len(cells) != 1:
        raise SystemExit(f"{stem}: expected exactly one code cell starting with {INSTALL_MARKER!r}; found {len(cells)}")
    cells[0].source = install_cell_source()
    cells[0].metadata["tags"] = ["remove-cell"]  # for Colab: the book's pages leave it out
    if stem in TRAINING_CHAPTERS:
        nb.metadata.update(GPU_METADATA)
    else:
        nb.metadata["colab"] = {"provenance": []}
        nb.metadata.pop("accelerator", None)


def normalise(path: Path) -> bool:
    """Rewrite the install cell and Colab metadata of ``path`` (a text notebook) and of its
    ``.ipynb`` (cell ids kept); returns whether either file changed."""
    config = load_jupytext_config(str(path))  # jupytext.toml: the pairing and the metadata kept in the text
    text = jupytext.read(path, config=config)
    _normalised(text, path.stem)
    ipynb = path.with_suffix(".ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    _normalised(nb, path.stem)
    changed = False
    for target, new in ((path, jupytext.writes(text, "md:myst", config=config)), (ipynb, nbformat.writes(nb) + "\n")):
        if new != target.read_text():
            target.write_text(new)
            changed = True
    return changed


def sync() -> None:
    """Sync every pair, then normalise both files of each (see the module docstring)."""
    paths = text_sources()
    if not paths:
        raise SystemExit(f"no text notebooks (NN_name.md) in {NOTEBOOKS}")
    for p in paths:  # a new chapter: create its .ipynb from the text
        if not p.with_suffix(".ipynb").exists():
            jupytext.write(jupytext.read(p), p.with_suffix(".ipynb"), fmt="ipynb")
    _sync_pairs(paths)
    changed = [p.name for p in paths if normalise(p)]
    print(f"synced {len(paths)} notebooks" + (f"; rewrote {', '.join(changed)}" if changed else ""))


def cells_with_outputs(paths: list[Path]) -> list[str]:
    """``"<notebook>: cell <n>"`` for every code cell of the ``.ipynb`` files ``paths`` that holds
    outputs or an execution count (committed notebooks are stored without either)."""
    found = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for n, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                found.append(f"{path.name}: cell {n}")
    return found


def pairs_in_step() -> bool:
    """Whether :func:`sync` leaves ``notebooks/`` as it is in git's index (nothing to stage)."""
    sync()
    done = subprocess.run(["git", "diff", "--quiet", "--", str(NOTEBOOKS)], cwd=ROOT)
    return done.returncode == 0


def main(argv: list[str]) -> int:
    """``notebooks.py``: sync every pair. ``--check-pairs``: sync, and fail (exit 1) when that
    changed a notebook (stage the changes). ``--check-outputs [notebooks]``: fail (exit 1, naming
    the cells) when a notebook (default: every chapter's ``.ipynb``) holds outputs."""
    if argv[:1] == ["--check-outputs"]:
        paths = [Path(a) for a in argv[1:]] or [p.with_suffix(".ipynb") for p in text_sources()]
        found = cells_with_outputs(paths)
        for where in found:
            print(f"{where} holds outputs: clear them (Jupyter: Edit > Clear outputs of all cells)", file=sys.stderr)
        return 1 if found else 0
    if argv == ["--check-pairs"]:
        if pairs_in_step():
            return 0
        print("make notebooks changed notebooks/: review and stage its changes", file=sys.stderr)
        return 1
    if argv:
        raise SystemExit(f"usage: python tools/notebooks.py [--check-pairs | --check-outputs [notebooks]]; got {argv}")
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
