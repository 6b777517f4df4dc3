"""The theory notebooks (entropy axioms, loss calculus): they run, their asserted proof steps
really guard them, and their statements, as the book renders them (sphinx-proof), are labelled,
unique and cross-referenced."""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import REPO

THEORY = {
    "10_entropy_axioms.ipynb": ("entropy_axioms", ["sandwich.png", "binary_entropy.png", "focal_term.png"]),
    "11_loss_calculus.ipynb": ("loss_calculus", ["per_pair_weights.png", "bcl_rcl_denominators.png"]),
}

# (notebook, exact code snippet, tampered version): each turns a true asserted statement false.
TAMPERS = [
    ("10_entropy_axioms.ipynb", "- (A(m) + A(n))) == 0", "- (A(m) - A(n))) == 0"),  # Lemma L1, a sign
    ("10_entropy_axioms.ipynb", "H(q5[:3]) - sp.log(3)) == 0", "H(q5[:3]) - sp.log(2)) == 0"),  # C1, a constant
    ("11_loss_calculus.ipynb", "prob[k] - sp.Rational(int(k in P_set)", "prob[k] + sp.Rational(int(k in P_set)"),
    ("11_loss_calculus.ipynb", "w_neg = np.where(neg, p / (1 - p), 0.0)", "w_neg = np.where(neg, p / (1 + p), 0.0)"),
]

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{prf:(?P<kind>[a-z]+)\}")


def book_notebook(name):
    """The notebook with its markdown as the book renders it (MyST: sphinx-proof directives,
    ``{prf:ref}`` and ``{cite:t}`` roles), converted from the plain-Jupyter source."""
    from book_markdown import notebook_to_myst
    from build_book import book_theorem_labels

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    notebook_to_myst(nb, book_theorem_labels(REPO))
    return nb


def prf_directives(name):
    """(kind, label or None) for every prf directive in the notebook's markdown cells."""
    found = []
    for cell in book_notebook(name).cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            match = FENCE.match(line)
            if not match:
                continue
            label = None
            for option in lines[i + 1 :]:
                if not option.startswith(":"):
                    break
                if option.startswith(":label:"):
                    label = option.split(":label:", 1)[1].strip()
            found.append((match["kind"], label))
    return found


def markdown(name):
    return "\n".join(c.source for c in book_notebook(name).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("name", sorted(THEORY))
def test_theory_notebook_runs_and_writes_its_figures(name, default_book):
    """Executed once, in the default book (the theory notebooks read no data and train nothing)."""
    root, executed = default_book
    out = root / "book" / "_generated"
    assert name in [p.name for p in executed]
    folder, figures = THEORY[name]
    for fig in figures:
        assert (out / "figures" / folder / fig).stat().st_size > 1000, fig
    notebook = nbformat.read(out / name, as_version=4)
    assert any(o.get("output_type") == "display_data" for c in notebook.cells for o in c.get("outputs", []))
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("name,old,new", TAMPERS, ids=[f"{n[:2]}-{i}" for i, (n, _, _) in enumerate(TAMPERS)])
def test_a_wrong_step_fails_the_notebook(name, old, new, tmp_path):
    """The tampered notebook's cells run in this process (tests/nbexec.py), in the smoke profile:
    the cell holding the tampered step fails its assertion, and every cell before it passes."""
    from nbexec import run_in_process

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells = [i for i, c in enumerate(code) if old in c.source]
    assert len(cells) == 1 and code[cells[0]].source.count(old) == 1, f"snippet not unique in {name}: {old}"
    code[cells[0]].source = code[cells[0]].source.replace(old, new)
    outcome = run_in_process(nb, {"profile": "smoke", "output_dir": str(tmp_path)}, tmp_path)
    assert outcome.failed_cell == cells[0], f"{name}: failed in code cell {outcome.failed_cell}, not {cells[0]}"
    assert isinstance(outcome.error, AssertionError), repr(outcome.error)


def test_the_untampered_steps_pass_in_process(tmp_path):
    """The control of the tamper check: the same in-process run of each theory notebook, untampered,
    passes every cell up to the last tampered one."""
    from nbexec import run_in_process

    for name in THEORY:
        code = nbformat.read(REPO / "notebooks" / name, as_version=4)
        last = max(
            i
            for i, c in enumerate(c for c in code.cells if c.cell_type == "code")
            for n, old, _ in TAMPERS
            if n == name and old in c.source
        )
        outcome = run_in_process(code, {"profile": "smoke", "output_dir": str(tmp_path)}, tmp_path, stop_after=last)
        assert outcome.failed_cell is None, (name, outcome.failed_cell, outcome.error)


def test_prf_statements_are_labelled_unique_and_referenced_labels_exist():
    labels = []
    for name in sorted(THEORY):
        directives = prf_directives(name)
        assert len([d for d in directives if d[0] != "proof"]) >= 8, name
        for kind, label in directives:
            if kind == "proof":
                continue  # sphinx-proof's prf:proof takes no label
            assert label, f"{name}: a prf:{kind} without :label:"
            labels.append(label)
    assert len(labels) == len(set(labels)), sorted(label for label in labels if labels.count(label) > 1)
    refs = set()
    for name in THEORY:
        refs |= set(re.findall(r"\{prf:ref\}`(?:[^`<>]*<)?([^`<>]+)>?`", markdown(name)))
    assert refs and refs <= set(labels), refs - set(labels)
    # the plain-Jupyter links the book turns into {prf:ref}: a link to an unknown label would stay a
    # plain link in the book, so it is checked in the source
    linked = set()
    for name in THEORY:
        source = nbformat.read(REPO / "notebooks" / name, as_version=4)
        text = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
        linked |= set(re.findall(r"\]\((?:[\w-]+\.ipynb)?#([\w-]+)\)", text))
    assert linked and linked <= set(labels), linked - set(labels)


def test_citations_exist_and_the_reconstruction_is_flagged():
    keys = set()
    for bib in ("references.bib", "theory_references.bib"):
        keys |= set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / bib).read_text(), flags=re.M))
    for name in THEORY:
        cited = {
            k.strip() for group in re.findall(r"\{cite(?::[tp])?\}`([^`]+)`", markdown(name)) for k in group.split(",")
        }
        assert cited and cited <= keys, cited - keys
    first = nbformat.read(REPO / "notebooks" / "10_entropy_axioms.ipynb", as_version=4).cells[0].source
    assert first.count("> **A reconstruction, not the paper's appendix.**") == 1
    assert "could not be recovered" in first and "not the paper's" in first
