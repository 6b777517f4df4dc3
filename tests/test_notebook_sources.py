"""The chapters' sources: text notebooks paired with their .ipynb, markdown that plain Jupyter and
Colab render, one install cell built from one constant, and Colab's GPU runtime where a chapter
trains. Also the conversion of that markdown into MyST for the book."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import types

import jupytext
import nbformat
import pytest
from book_markdown import notebook_to_myst, to_myst
from bs4 import BeautifulSoup
from build_book import NOTEBOOKS, book_theorem_labels
from conftest import REPO
from jupytext.compare import NotebookDifference, compare_notebooks
from nbconvert import HTMLExporter

from imbalanced_contrastive._meta import INSTALL_SPEC, RELEASE_TAG, REPOSITORY_URL, VERSION
from notebooks import CHAPTER_NOTEBOOKS, GPU_METADATA, INSTALL_MARKER, TRAINING_CHAPTERS, install_cell_source

STEMS = [name.removesuffix(".ipynb") for name in NOTEBOOKS]
MYST_SYNTAX = ["{cite", "{prf:", "{admonition}", ":::{", "```{", "{doc}", "{numref}", "{ref}"]


def test_every_chapter_is_a_text_notebook_paired_with_its_ipynb():
    assert sorted(p.stem for p in (REPO / "notebooks").glob("*.md")) == sorted(STEMS)
    assert not (REPO / "tools" / "notebook_sources").exists(), "chapters have one source: their text notebook"
    assert 'formats = "ipynb,md:myst"' in (REPO / "jupytext.toml").read_text()


@pytest.mark.parametrize("stem", STEMS)
def test_committed_ipynb_equals_its_text_source(stem):
    text = jupytext.read(REPO / "notebooks" / f"{stem}.md")
    ipynb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
    try:
        compare_notebooks(ipynb, text, fmt="md:myst")
    except Exception as err:  # jupytext raises its own comparison errors
        pytest.fail(f"notebooks/{stem}.ipynb differs from notebooks/{stem}.md; run `make notebooks`:\n{err}")
    for key in ("accelerator", "colab"):
        assert text.metadata.get(key) == ipynb.metadata.get(key), f"{stem}: metadata {key!r} differs"


def test_the_pairing_check_fails_on_a_drifted_notebook():
    text = jupytext.read(REPO / "notebooks" / "01_primer.md")
    ipynb = nbformat.read(REPO / "notebooks" / "01_primer.ipynb", as_version=4)
    ipynb.cells[0].source += "\nan edit made only in the .ipynb"
    with pytest.raises(NotebookDifference, match="an edit made only in the .ipynb"):
        compare_notebooks(ipynb, text, fmt="md:myst")


def test_install_cell_is_built_from_one_constant():
    assert INSTALL_SPEC == f"imbalanced-contrastive @ git+{REPOSITORY_URL}@{RELEASE_TAG}"
    assert RELEASE_TAG == f"v{VERSION}" and "@main" not in INSTALL_SPEC
    assert importlib.metadata.version("imbalanced-contrastive") == VERSION, "pyproject.toml reads VERSION from _meta"
    for stem in STEMS:
        nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
        cells = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(INSTALL_MARKER)]
        assert cells == [install_cell_source()], f"{stem}: run `make notebooks` to rewrite its install cell"
    source = install_cell_source()
    assert " -q" not in source and "torch" not in source, "pip's output stays visible; Colab's torch is kept"


class _FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata, self.version = {"Name": name}, version


@pytest.mark.parametrize("installed, expect_pip", [(VERSION, False), ("0.0.1", True), (None, True)])
def test_install_cell_installs_only_when_the_release_is_missing(installed, expect_pip, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    calls: list[str] = []
    dists = [_FakeDist("numpy", "2.0")] + ([_FakeDist("imbalanced-contrastive", installed)] if installed else [])
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: dists)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    shell = InteractiveShell.instance()
    shell.register_magic_function(lambda line: calls.append(line), magic_kind="line", magic_name="pip")
    result = shell.run_cell(install_cell_source())
    assert result.success, result.error_in_exec
    assert calls == ([f'install "{INSTALL_SPEC}"'] if expect_pip else [])


def test_training_chapters_ask_colab_for_a_gpu():
    for stem in STEMS:
        meta = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4).metadata
        if stem in TRAINING_CHAPTERS:
            assert meta.get("accelerator") == "GPU" and meta["colab"] == GPU_METADATA["colab"], stem
        else:
            assert "accelerator" not in meta, f"{stem} trains nothing and needs no GPU"
    assert set(TRAINING_CHAPTERS) <= set(STEMS)


def _plain_html(stem: str) -> BeautifulSoup:
    """The notebook as plain Jupyter renders it: nbconvert's HTML exporter, which knows no MyST."""
    body, _ = HTMLExporter(template_name="basic").from_filename(str(REPO / "notebooks" / f"{stem}.ipynb"))
    return BeautifulSoup(body, "html.parser")


@pytest.mark.parametrize("stem", STEMS)
def test_markdown_reads_well_in_plain_jupyter(stem):
    soup = _plain_html(stem)
    for cell in soup.select(".jp-MarkdownCell"):
        text = cell.get_text()
        raw = [s for s in MYST_SYNTAX if s in text]
        assert not raw, f"{stem}: raw MyST syntax {raw} shows in plain Jupyter: {text[:300]!r}"
    for tag in soup.find_all(string=re.compile(r"\bSolution\b")):
        assert tag.find_parent("summary") is not None, f"{stem}: a solution is visible before it is clicked: {tag!r}"
    for details in soup.find_all("details"):
        assert details.find("summary") is not None and "open" not in details.attrs, (
            f"{stem}: a <details> must be closed"
        )


def test_exercises_have_collapsed_solutions():
    solutions = sum(len(_plain_html(s).find_all("details")) for s in STEMS)
    assert solutions >= 7, "every chapter's exercise solutions sit in a collapsed <details>"


def test_book_markdown_conversion():
    cite = 'as [Khosla et al. (2020)](https://arxiv.org/abs/2004.11362 "cite:khosla2020supcon") showed'
    assert to_myst(cite) == "as {cite:t}`khosla2020supcon` showed"
    block = '> <a id="ent-lem-log"></a>**Lemma (L2: $A(n) = K \\log n$).** Under A2 and A3\n> there is $K$.\n>\n> $$x$$'
    assert (
        to_myst(block)
        == ":::{prf:lemma} L2: $A(n) = K \\log n$\n:label: ent-lem-log\nUnder A2 and A3\nthere is $K$.\n\n$$x$$\n:::"
    )
    assert to_myst("> **Proof.** Trivial.") == ":::{prf:proof}\nTrivial.\n:::"
    assert to_myst("> **Note.** stays a quote") == "> **Note.** stays a quote"
    site = "[the appendix](https://imbalanced-contrastive.github.io/companion/paper_specs.html#spec-acl-losses)"
    assert to_myst(f"see {site}.") == "see {ref}`the appendix <spec-acl-losses>`."
    details = "<details><summary>Solution</summary>\n\nIt is $1$.\n\n</details>"
    assert to_myst(details) == ":::{admonition} Solution\n:class: dropdown\nIt is $1$.\n:::"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("See [Lemma L2](#ent-lem-log) and [x](#other)."),
            nbformat.v4.new_markdown_cell(block),
        ]
    )
    notebook_to_myst(nb)
    assert nb.cells[0].source == "See {prf:ref}`Lemma L2 <ent-lem-log>` and [x](#other)."
    other = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("By [T2](10_entropy_axioms.ipynb#ent-thm-gibbs).")]
    )
    notebook_to_myst(other, {"ent-thm-gibbs"})
    assert other.cells[0].source == "By {prf:ref}`T2 <ent-thm-gibbs>`."


@pytest.mark.parametrize("stem", ["10_entropy_axioms", "11_loss_calculus", "02_acl_fmnist"])
def test_book_keeps_its_theorems_citations_and_dropdowns(stem):
    nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
    plain = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    notebook_to_myst(nb, book_theorem_labels(REPO))
    myst = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert plain.count('"cite:') == myst.count("{cite:t}`") > 0
    assert plain.count("<details>") == myst.count(":class: dropdown")
    assert "<details>" not in myst and '"cite:' not in myst
    if stem != "02_acl_fmnist":
        assert myst.count("{prf:proof}") >= 5 and myst.count(":label: ") >= 8
        assert "](#" not in myst, "every link to a theorem becomes a {prf:ref}"


@pytest.mark.parametrize("stem", STEMS)
def test_no_blockquote_line_starts_a_list_by_accident(stem):
    """A line of a blockquote (a theorem) that starts with ``+`` or ``-`` becomes a list item: an
    equation continued on such a line renders as raw TeX and a stray bullet."""
    text = (REPO / "notebooks" / f"{stem}.md").read_text()
    bad = [line for line in text.splitlines() if re.match(r"^>\s*[+\-]\s", line)]
    assert not bad, f"{stem}: blockquote lines that start a list: {bad}"


def _defaults(notebook: str) -> dict:
    import ast

    import papermill as pm

    params = pm.inspect_notebook(str(REPO / "notebooks" / notebook))
    return {name: ast.literal_eval(p["default"]) for name, p in params.items()}


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def test_notebook_defaults_are_the_committed_runs():
    """A chapter opened as it is shows the committed records: its parameters' defaults are those
    :data:`~imbalanced_contrastive.grid.CHAPTER_RUNS` (and the grid) are made with, its profile is
    ``full`` and ``train`` is ``"auto"``; the benchmark's methods, stage-2 runs and seeds are the grid's."""
    import inspect

    from imbalanced_contrastive import grid

    assert set(CHAPTER_NOTEBOOKS) == set(grid.CHAPTER_RUNS)
    for chapter, notebook in CHAPTER_NOTEBOOKS.items():
        defaults = _defaults(notebook)
        assert defaults["profile"] == "full" and defaults["train"] == "auto", notebook
        for name, p in inspect.signature(grid.CHAPTER_RUNS[chapter]).parameters.items():
            assert name in defaults, f"{notebook} has no parameter {name} ({chapter}'s runs depend on it)"
            assert _same(defaults[name], p.default), (
                f"{notebook}: {name} = {defaults[name]!r}, but the committed runs use {p.default!r}"
            )
    bench = _defaults("06_benchmark.ipynb")
    assert bench["profile"] == "full" and bench["train"] == "auto"
    assert _same(bench["methods"], grid.GRID_METHODS) and _same(bench["seeds"], grid.GRID_SEEDS)
    assert _same(bench["prior_stage2"], grid.PRIOR_STAGE2_METHODS)
