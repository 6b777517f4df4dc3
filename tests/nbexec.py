"""Run a notebook's code cells in this process, without a kernel: for the checks that only need to
know which cell fails and how (a wrong parameter, a tampered proof step), a kernel's start-up is
most of their cost. IPython's own transformer turns the cells' magics (the Colab install cell's
``%pip``) into Python; ``display`` is IPython's."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat


@dataclass
class Outcome:
    """Which code cell (0-based, the parameters cell first) raised what; ``None`` if none did."""

    failed_cell: int | None = None
    error: BaseException | None = None
    namespace: dict = field(default_factory=dict)


def code_cells(notebook: Path | nbformat.NotebookNode) -> list[str]:
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, Path) else notebook
    return [c.source for c in nb.cells if c.cell_type == "code"]


def run_in_process(
    notebook: Path | nbformat.NotebookNode, parameters: dict, cwd: Path, stop_after: int | None = None
) -> Outcome:
    """Execute the code cells as papermill would (the parameters cell, then ``parameters`` injected
    after it), in ``cwd``, up to the first that raises or up to cell ``stop_after``.

    Args:
        notebook: a path or an already read (possibly tampered) notebook.
        parameters: the values papermill would inject.
        cwd: the working folder (the notebook's outputs go there).
        stop_after: the last code cell to run (``None``: all of them).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.display import display

    matplotlib.use("Agg")
    transform = TransformerManager().transform_cell
    cells = code_cells(notebook)
    namespace: dict = {"__name__": "__main__", "display": display}
    outcome = Outcome(namespace=namespace)
    previous = Path.cwd()
    try:
        os.chdir(cwd)
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for index, source in enumerate(cells):
                if stop_after is not None and index > stop_after:
                    break
                try:
                    exec(compile(transform(source), f"<cell {index}>", "exec"), namespace)
                    if index == 0:
                        namespace.update(parameters)  # papermill's injected-parameters cell
                except Exception as error:  # the cell's failure is the outcome
                    outcome.failed_cell, outcome.error = index, error
                    break
    finally:
        os.chdir(previous)
        plt.close("all")
    return outcome
