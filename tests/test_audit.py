"""``python -m imbalanced_contrastive audit`` (issue #31, item 5): it passes on the checkout, and
each kind of defect it looks for makes it name the problem and exit 1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from imbalanced_contrastive.audit import audit, readme_problems, record_problems
from imbalanced_contrastive.records import RunRecord

RECORD = "fmnist/full/ce/seed0"


def test_the_committed_records_pass_the_audit():
    done = subprocess.run(
        [sys.executable, "-m", "imbalanced_contrastive", "audit"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    n = len(list((REPO / "results").rglob("record.json")))
    assert f"audit: {n} records, 0 problems (their commits looked up in the history)" in done.stdout


@pytest.fixture
def copy(tmp_path) -> Path:
    """One committed record copied out of the checkout."""
    folder = tmp_path / RECORD
    shutil.copytree(REPO / "results" / RECORD, folder)
    return folder


def _edit(folder: Path, change) -> None:
    path = folder / "record.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_metric_its_confusion_matrix_does_not_give_is_named(copy):
    _edit(copy, lambda d: d["metrics"].update(balanced_accuracy=d["metrics"]["balanced_accuracy"] + 1e-4))
    problems = record_problems(RunRecord.load(copy), RECORD, REPO)
    assert len(problems) == 1 and "balanced_accuracy is" in problems[0] and "its confusion matrix gives" in problems[0]


def test_a_commit_outside_the_history_or_younger_than_the_record_is_named(copy):
    _edit(copy, lambda d: d["provenance"].update(git_commit="0" * 40))
    assert any("is not in this repository's history" in p for p in record_problems(RunRecord.load(copy), RECORD, REPO))
    _edit(
        copy,
        lambda d: d["provenance"].update(
            git_commit=RunRecord.load(REPO / "results" / RECORD).provenance["git_commit"], date="2020-01-01T00:00:00Z"
        ),
    )
    assert any("before its commit" in p for p in record_problems(RunRecord.load(copy), RECORD, REPO))
    _edit(copy, lambda d: d["provenance"].update(git_commit="abc123-dirty"))
    assert any("not made from a clean commit" in p for p in record_problems(RunRecord.load(copy), RECORD, REPO))


def test_a_file_whose_checksum_is_not_the_manifests_is_named(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results", results)
    _edit(results / RECORD, lambda d: d["provenance"].update(date=d["provenance"]["date"]))  # rewritten: new bytes
    problems = audit(results, REPO)
    assert f"{RECORD}/record.json: its checksum is not the manifest's" in problems


def test_a_readme_that_no_longer_states_the_records_is_named(tmp_path):
    records = [RunRecord.load(p.parent) for p in (REPO / "results").rglob("record.json")]
    readme = tmp_path / "README.md"
    text = (REPO / "README.md").read_text()
    readme.write_text(text)
    assert readme_problems(records, readme) == []
    readme.write_text(text.replace("cross-entropy reaches", "cross-entropy reached"))
    (problem,) = readme_problems(records, readme)
    assert problem.startswith("README.md does not say: 'cross-entropy reaches")


def test_the_audit_command_exits_1_and_prints_each_problem(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(REPO / "results", results)
    _edit(results / RECORD, lambda d: d["metrics"].update(accuracy=0.5))
    done = subprocess.run(
        [sys.executable, "-m", "imbalanced_contrastive", "audit", "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{RECORD}: accuracy is 0.5" in done.stdout and "its checksum is not the manifest's" in done.stdout
    assert "no git history here: commits not looked up" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "imbalanced_contrastive", "audit", "--results", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--results" in bad.stderr and "nope" in bad.stderr
