"""Turn the chapters' plain-Jupyter markdown into MyST for the book.

The notebooks are written in constructs that plain Jupyter and Colab render (they open the
``.ipynb`` as it is), and the book build rewrites those constructs into their MyST equivalents,
so the site keeps numbered theorems, cross-references, a bibliography and dropdowns:

* ``[Khosla et al. (2020)](https://... "cite:khosla2020supcon")`` -> ``{cite:t}`khosla2020supcon```;
* ``> <a id="ent-lem-log"></a>**Lemma (L2: ...).** text`` -> ``:::{prf:lemma} L2: ...`` with
  ``:label: ent-lem-log`` (likewise Axiom, Definition, Theorem, Proposition, Corollary, Remark);
* ``> **Proof.** text`` -> ``:::{prf:proof}``;
* ``[Lemma L2](#ent-lem-log)`` or ``[L2](NN_name.ipynb#ent-lem-log)`` -> ``{prf:ref}`Lemma L2 <ent-lem-log>```;
* ``<details><summary>Solution</summary> ... </details>`` -> a dropdown ``:::{admonition} Solution``;
* a link to a section of the published book (``SITE_URL`` + ``page.html#label``) -> ``{ref}`text <label>```.

A theorem-like block is a blockquote whose first line starts with the bold kind (optionally
``(title)``) and a full stop; its body is the rest of the blockquote. Other blockquotes stay
blockquotes.
"""

from __future__ import annotations

import re

from imbalanced_contrastive._meta import SITE_URL

PROOF_KINDS = {
    "Axiom": "axiom",
    "Definition": "definition",
    "Lemma": "lemma",
    "Theorem": "theorem",
    "Proposition": "proposition",
    "Corollary": "corollary",
    "Remark": "remark",
    "Proof": "proof",
}
"""Bold lead words of theorem-like blockquotes -> sphinx-proof directive names."""

_SITE_LINK = re.compile(r"\[([^\]]+)\]\(" + re.escape(SITE_URL) + r"[\w-]+\.html#([\w-]+)\)")
_CITE = re.compile(r'\[([^\]]+)\]\((\S+) "cite:([\w:-]+)"\)')
_DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>\s*\n(.*?)\n\s*</details>", re.S)
_HEAD = re.compile(
    r'^(?:<a id="(?P<label>[\w:-]+)"></a>)?\*\*(?P<kind>'
    + "|".join(PROOF_KINDS)
    + r")(?: \((?P<title>.+?)\))?\.\*\*\s*(?P<rest>.*)$"
)


def _fence(body: str) -> str:
    """A colon fence longer than any inside ``body``, so nested directives stay intact."""
    longest = max((len(m) for m in re.findall(r"^(:{3,})", body, re.M)), default=2)
    return ":" * max(3, longest + 1)


def _theorem_blocks(text: str, labels: set[str]) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        head = _HEAD.match(lines[i][2:]) if lines[i].startswith("> ") else None
        if head is None:
            out.append(lines[i])
            i += 1
            continue
        body = [head["rest"]]
        i += 1
        while i < len(lines) and (lines[i] == ">" or lines[i].startswith("> ")):
            body.append(lines[i][2:])
            i += 1
        content = "\n".join(body).strip("\n")
        fence = _fence(content)
        directive = f"{fence}{{prf:{PROOF_KINDS[head['kind']]}}}" + (f" {head['title']}" if head["title"] else "")
        options = [f":label: {head['label']}"] if head["label"] else []
        if head["label"]:
            labels.add(head["label"])
        out += [directive, *options, content, fence]
    return "\n".join(out)


def to_myst(text: str, known_labels: set[str] | None = None) -> str:
    """The MyST form of one markdown cell (see the module docstring).

    Args:
        text: the cell's markdown, as written for plain Jupyter.
        known_labels: theorem labels defined anywhere in the book; links ``[text](#label)`` or
            ``[text](NN_name.ipynb#label)`` to them become ``{prf:ref}`` roles (labels defined in
            ``text`` itself are found too).
    """
    labels = set(known_labels or ())
    text = _DETAILS.sub(
        lambda m: f"{_fence(m[2])}{{admonition}} {m[1].strip()}\n:class: dropdown\n{m[2].strip()}\n{_fence(m[2])}", text
    )
    text = _theorem_blocks(text, labels)
    text = _CITE.sub(lambda m: f"{{cite:t}}`{m[3]}`", text)
    text = _SITE_LINK.sub(lambda m: f"{{ref}}`{m[1]} <{m[2]}>`", text)
    if labels:
        pattern = re.compile(r"\[([^\]]+)\]\((?:[\w-]+\.ipynb)?#(" + "|".join(map(re.escape, sorted(labels))) + r")\)")
        text = pattern.sub(lambda m: f"{{prf:ref}}`{m[1]} <{m[2]}>`", text)
    return text


def theorem_labels(markdown_cells: list[str]) -> set[str]:
    """Every theorem label (``<a id="...">`` heading a theorem-like blockquote) in the cells."""
    labels: set[str] = set()
    for text in markdown_cells:
        _theorem_blocks(text, labels)
    return labels


def notebook_to_myst(nb, book_labels: set[str] | None = None) -> None:
    """Rewrite every markdown cell of ``nb`` (an ``nbformat`` notebook) in place.

    Args:
        nb: the notebook.
        book_labels: theorem labels of the other chapters (for cross-chapter references).
    """
    cells = [c for c in nb.cells if c.cell_type == "markdown"]
    labels = theorem_labels([c.source for c in cells]) | set(book_labels or ())
    for cell in cells:
        cell.source = to_myst(cell.source, labels)
