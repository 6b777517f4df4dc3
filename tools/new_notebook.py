"""Write an output-free notebook from a list of (kind, source[, tags]) cells.

Used by the maintainers to (re)generate the notebooks in ``notebooks/`` from the cell lists in
``tools/notebook_sources/*.py``; the committed ``.ipynb`` files are what users open.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat


def build(cells: list[tuple], path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for i, cell in enumerate(cells):
        kind, source = cell[0], cell[1].strip("\n")
        tags = cell[2] if len(cell) > 2 else []
        new = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        new.id = f"{path.stem[:20]}-{i:02d}"
        if tags:
            new.metadata["tags"] = list(tags)
        nb.cells.append(new)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n")


if __name__ == "__main__":
    for src in sys.argv[1:]:
        sys.path.insert(0, str(Path(src).resolve().parent))
        spec = importlib.util.spec_from_file_location("nbsrc", src)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if not hasattr(mod, "CELLS"):  # shared helpers (common.py)
            continue
        build(mod.CELLS, Path("notebooks") / mod.NAME)
        print("wrote", Path("notebooks") / mod.NAME)
