"""Notebooks run under papermill (smoke profile) and the strict book build works end to end."""

from __future__ import annotations

import json
import shutil

import nbformat
import papermill as pm
import pytest

from conftest import REPO
from imbalanced_contrastive import REPOSITORY_URL
from imbalanced_contrastive.book import NOTEBOOKS, build_book, execute_notebooks


def test_notebooks_are_committed_without_outputs():
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name} has outputs"
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{name} needs exactly one 'parameters' cell"
        params = pm.inspect_notebook(str(REPO / "notebooks" / name))
        assert {"profile", "seed", "output_dir", "data_dir"} <= set(params)


def test_colab_links_use_the_one_repository_url():
    for name in NOTEBOOKS:
        text = (REPO / "notebooks" / name).read_text()
        colab = REPOSITORY_URL.replace("https://github.com", "https://colab.research.google.com/github")
        assert f"{colab}/blob/main/notebooks/{name}" in text
        assert f"git+{REPOSITORY_URL}" in text
    assert f"url: {REPOSITORY_URL}" in (REPO / "book" / "_config.yml").read_text()


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory, real_fmnist_dir):
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_build", "_generated"))
    executed = execute_notebooks("smoke", root=root)
    return root, executed


def test_smoke_notebooks_produce_their_figures(smoke_book):
    root, executed = smoke_book
    assert [p.name for p in executed] == NOTEBOOKS
    figures = root / "book" / "_generated" / "runs" / "figures" / "data_tour"
    for fig in ("sample_grid.png", "class_counts.png"):
        assert (figures / fig).stat().st_size > 1000
    nb = json.loads(executed[0].read_text())
    assert any(o.get("output_type") == "display_data" for c in nb["cells"] for o in c.get("outputs", []))


def test_strict_book_build_and_failed_build_keeps_last_site(smoke_book):
    root, _ = smoke_book
    index = build_book(root)
    assert index.is_file()
    page = (root / "book" / "_build" / "html" / "_generated" / "00_data_tour.html").read_text()
    assert "<img" in page and "Fashion-MNIST" in page
    (root / "book" / "intro.md").write_text((root / "book" / "intro.md").read_text() + "\n{cite}`no-such-key`\n")
    with pytest.raises(RuntimeError, match="previous site"):
        build_book(root)
    assert index.is_file(), "a failed build must not remove the last good site"


def test_a_wrong_parameter_fails_in_the_first_cells(tmp_path, real_fmnist_dir):
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(REPO / "notebooks" / NOTEBOOKS[0]), str(tmp_path / "out.ipynb"),
                            parameters={"profile": "fast", "output_dir": str(tmp_path)}, progress_bar=False,
                            kernel_name="python3")
    assert "profile must be one of" in str(err.value)
