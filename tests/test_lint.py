"""ruff keeps the repository clean: `make lint` (run first by `make test`) passes on the checkout,
fails on a planted lint error or an unformatted file, and uses the ruff that requirements.txt and
the pre-commit configuration pin."""

from __future__ import annotations

import re
import shutil
import subprocess

import yaml
from conftest import REPO

RUFF = REPO / ".venv" / "bin" / "ruff"


def _ruff() -> str:
    return str(RUFF) if RUFF.exists() else shutil.which("ruff")


def _lint(folder) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "setup", "lint", f"VENV={RUFF.parent.parent}"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path):
    """The tracked files of the repository, in a temporary folder."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy(REPO / name, target)
    return tmp_path


def test_the_checkout_passes_lint():
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_make_lint_fails_on_a_planted_error(tmp_path):
    copy = _copy(tmp_path)
    module = copy / "src" / "imbalanced_contrastive" / "evaluation.py"
    module.write_text(module.read_text() + "\n\ndef _planted():\n    return undefined_name\n")
    done = _lint(copy)
    assert done.returncode != 0 and "F821" in done.stdout, done.stdout + done.stderr


def test_make_lint_fails_on_an_unformatted_file(tmp_path):
    copy = _copy(tmp_path)
    module = copy / "tools" / "notebooks.py"
    module.write_text(module.read_text() + "\n\nPLANTED = {  'a':1 ,'b' :2}\n")
    done = _lint(copy)
    assert done.returncode != 0 and "would be reformatted" in done.stdout + done.stderr, done.stdout + done.stderr


def test_make_test_runs_lint_first():
    makefile = (REPO / "Makefile").read_text()
    prerequisites = re.search(r"^test: (.*)$", makefile, re.M).group(1).split()
    assert "lint" in prerequisites
    lint_rule = makefile.split("\nlint:")[1].split("\n\n")[0]
    assert "ruff check ." in lint_rule and "ruff format --check ." in lint_rule


def test_ruff_is_pinned_once_everywhere():
    pinned = re.search(r"^ruff==(\S+)$", (REPO / "requirements.txt").read_text(), re.M).group(1)
    assert f"- ruff=={pinned}" in (REPO / "environment.yml").read_text()
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"]
    ruff_repo = next(r for r in hooks if r["repo"].endswith("ruff-pre-commit"))
    assert ruff_repo["rev"] == f"v{pinned}"
    assert {h["id"] for h in ruff_repo["hooks"]} == {"ruff-check", "ruff-format"}
    version = subprocess.run([_ruff(), "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    assert version == pinned


def test_pre_commit_hooks_call_what_exists():
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"]
    ids = {h["id"] for r in hooks for h in r["hooks"]}
    assert {"check-added-large-files", "notebook-pairs", "notebook-outputs"} <= ids
    local = next(r for r in hooks if r["repo"] == "local")["hooks"]
    assert {h["entry"] for h in local} == {
        "python tools/notebooks.py --check-pairs",
        "python tools/notebooks.py --check-outputs",
    }
    assert (REPO / "CONTRIBUTING.md").is_file()


def test_the_pairs_check_passes_on_the_checkout():
    from notebooks import main

    assert main(["--check-pairs"]) == 0, "make notebooks would change notebooks/"


def test_the_output_check_finds_outputs(tmp_path):
    import nbformat

    from notebooks import cells_with_outputs, main

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    clean = tmp_path / "clean.ipynb"
    nbformat.write(nb, clean)
    nb.cells[0].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    nb.cells[0].execution_count = 1
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, dirty)
    assert cells_with_outputs([clean, dirty]) == ["dirty.ipynb: cell 1"]
    assert main(["--check-outputs", str(clean)]) == 0 and main(["--check-outputs", str(dirty)]) == 1
    assert main(["--check-outputs"]) == 0, "the committed chapters hold no outputs"
