"""Committed records: where they are found, how they are fetched, the grid that makes them, and the
chapters' load-or-train (the records themselves: tests/test_committed_records.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, seconds_until
from localhttp import serve

import imbalanced_contrastive.committed as committed
import imbalanced_contrastive.grid as grid
from imbalanced_contrastive.chapter import Chapter
from imbalanced_contrastive.records import CorruptRecordError, RunRecord
from imbalanced_contrastive.training.config import make_config


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    """An empty results folder read first; the checkout's and the package manifest hidden."""
    root = tmp_path / "results"
    root.mkdir()
    monkeypatch.setenv(committed.RESULTS_ENV, str(root))
    monkeypatch.setattr(committed, "CHECKOUT_RESULTS", tmp_path / "no-checkout")
    monkeypatch.setattr(committed, "MANIFEST", tmp_path / "manifest.json")
    return root


def test_run_folder_names_the_method_or_what_differs():
    config = make_config("acl", "full", seed=2)
    assert committed.run_folder(config) == "fmnist/full/acl/seed2"
    other = committed.run_folder(make_config("acl", "full", seed=2, eta=10.0))
    assert other.startswith("fmnist/full/acl-") and other.endswith("/seed2") and len(other.split("/")[2]) == 12
    assert committed.run_folder(make_config("acl", "full", seed=2, eta=20.0)) != other


def test_settings_ignore_version_and_hardware(monkeypatch):
    a = make_config("ce", "full", device="cpu", data_dir="/somewhere")
    key = a.cache_key()
    monkeypatch.setattr("imbalanced_contrastive.training.config.__version__", "9.9.9")
    b = make_config("ce", "full")
    assert key != b.cache_key() and committed.settings_of(a) == committed.settings_of(b)
    assert committed.differences(committed.settings_of(a), committed.settings_of(make_config("ce", "full", epochs=3)))


def test_full_profile_is_the_whole_step_imbalanced_set_with_minorities_few():
    config = make_config("ce", "full")
    assert config.train_per_class is None and config.test_per_class is None and config.imbalance == "step"
    assert config.ratio == 10.0 and config.minority_classes == [0, 2, 4, 6]
    # 6000 majority images are many, 600 minority images are few
    assert config.few_threshold <= 6000 // 10 * 2 and 600 < config.few_threshold and 6000 > config.many_threshold
    with pytest.raises(ValueError, match="profile 'full' is defined for datasets"):
        make_config("ce", "full", "cifar10")


def _smoke_grid(results: Path, methods=("ce",), seeds=(0,)) -> dict[str, str]:
    configs = grid.grid_configs("smoke", "fmnist", methods, seeds)
    return grid.train_grid(configs, results=results, allow_dirty=True)


def test_grid_writes_compact_records_and_keeps_finished_ones(results, real_fmnist_dir, capsys):
    assert _smoke_grid(results, ("ce", "balanced_softmax")) == {
        "ce seed 0": "trained",
        "balanced_softmax seed 0": "trained",
    }
    folder = results / "fmnist" / "smoke" / "ce" / "seed0"
    record = RunRecord.load(folder)
    assert record.embeddings.dtype.name == "float16" and len(record.embedding_indices) == len(record.embeddings)
    assert len(record.embedding_predictions) == len(record.embeddings) and record.provenance["date"]
    assert sorted(p.name for p in folder.iterdir()) == ["embeddings.npz", "record.json"]
    assert record.provenance["overrides"] == {}
    assert _smoke_grid(results, ("ce", "balanced_softmax")) == {"ce seed 0": "kept", "balanced_softmax seed 0": "kept"}
    out = capsys.readouterr().out
    assert "grid 1/2 ce seed 0: trained in" in out and "grid 2/2 balanced_softmax seed 0: kept" in out
    # a record with other settings at the run's folder is trained again
    data = json.loads((folder / "record.json").read_text())
    data["config"]["epochs"] = 7
    (folder / "record.json").write_text(json.dumps(data))
    assert _smoke_grid(results) == {"ce seed 0": "trained"}


def test_grid_refuses_a_dirty_tree(results, monkeypatch):
    monkeypatch.setattr("imbalanced_contrastive.provenance.git_commit", lambda start=None: "abc-dirty")
    with pytest.raises(RuntimeError, match="uncommitted changes"):
        grid.train_grid(grid.grid_configs("smoke", "fmnist", ["ce"], [0]), results=results)


def test_missing_records_are_listed_with_the_commands(results):
    configs = grid.grid_configs("full", "fmnist", ["ce", "acl"], [0])
    configs["ACL η=10"] = make_config("acl", "full", eta=10.0)
    with pytest.raises(committed.MissingRecordsError) as err:
        committed.load_records(configs)
    message = str(err.value)
    assert "3 of 3 runs have no committed record" in message and "fmnist/full/acl/seed0" in message
    assert "grid --profile full --dataset fmnist --methods acl --seeds 0 --set loss_params=" in message
    assert "train=True" in message


def test_chapter_in_a_committed_profile_loads_and_never_trains(results, real_fmnist_dir, monkeypatch, tmp_path):
    # records of the smoke grid placed as full-profile records of the same settings
    _smoke_grid(results)
    config = make_config("ce", "smoke")
    source = results / "fmnist" / "smoke" / "ce" / "seed0"
    chapter = Chapter("demo", "full", output_dir=tmp_path)
    monkeypatch.setattr(committed, "run_folder", lambda c: "fmnist/smoke/ce/seed0")
    monkeypatch.setattr("imbalanced_contrastive.chapter.run_all", lambda configs: pytest.fail("trained"))
    records = chapter.run({"CE": config})
    assert records["CE"].metrics == RunRecord.load(source).metrics
    with pytest.raises(CorruptRecordError, match="other settings: epochs"):
        chapter.run({"CE": make_config("ce", "smoke", epochs=2)})
    with pytest.raises(ValueError, match="train must be one of 'auto', True or False; got 'yes'"):
        Chapter("demo", "full", output_dir=tmp_path, train="yes")
    assert Chapter("demo", "full", output_dir=tmp_path, train=True).loads_committed is False


def test_missing_files_are_downloaded_and_checked(results, real_fmnist_dir, tmp_path, monkeypatch):
    served = tmp_path / "served"
    _smoke_grid(served)
    files = committed.committed_files(served)
    committed.MANIFEST.write_text(json.dumps(files))
    assert set(files) == {"fmnist/smoke/ce/seed0/record.json", "fmnist/smoke/ce/seed0/embeddings.npz"}
    requests: list[str] = []
    with serve(served, requests) as url:
        monkeypatch.setenv(committed.RESULTS_URL_ENV, url)
        where = committed.locate("fmnist/smoke/ce/seed0")
        assert where == committed.download_root() / "fmnist/smoke/ce/seed0"
        assert RunRecord.load(where).embedding_indices is not None
        assert sorted(requests) == sorted(f"/{f}" for f in files)
        assert committed.locate("fmnist/smoke/ce/seed0") == where and len(requests) == 2  # once only
        assert committed.locate("fmnist/smoke/ce/seed1") is None  # not in the release
        shutil.rmtree(committed.download_root())
        (served / "fmnist/smoke/ce/seed0/record.json").write_text("{}")  # the server has other bytes
        with pytest.raises(CorruptRecordError, match="checksum"):
            committed.locate("fmnist/smoke/ce/seed0")
    monkeypatch.setenv(committed.RESULTS_URL_ENV, "http://127.0.0.1:9")
    with pytest.raises(committed.MissingRecordsError, match="downloading the committed file"):
        committed.locate("fmnist/smoke/ce/seed0")


def test_cli_grid_help_and_bad_profile():
    proc = subprocess.run(
        [sys.executable, "-m", "imbalanced_contrastive", "grid", "--profile", "full", "--dataset", "cifar10"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2 and "profile 'full' is defined for datasets" in proc.stderr


def test_benchmark_chapter_in_the_full_profile_loads_in_seconds_and_trains_nothing(default_book):
    """The benchmark as the default book executed it (a reader's `make book`, an empty runs folder):
    its committed records show within 30 s of the chapter's start, and nothing was trained."""
    from imbalanced_contrastive.grid import benchmark_configs

    root, _ = default_book
    out = root / "book" / "_generated"
    nb = json.loads((out / "06_benchmark.ipynb").read_text())
    assert nb["metadata"]["papermill"]["parameters"]["profile"] == "full"
    assert not list((out / "runs").rglob("record.json")) and not list((out / "runs").rglob("checkpoint*"))
    text = json.dumps(nb["cells"], ensure_ascii=False)
    n = len(benchmark_configs("full", "fmnist"))
    assert f"{n} committed records loaded (full profile · {n} runs · seeds 0, 1, 2" in text
    shown = seconds_until(nb, "committed records loaded")
    seconds = nb["metadata"]["papermill"]["duration"]
    assert shown < 30, f"the committed results took {shown:.0f} s to show (the whole chapter {seconds:.0f} s)"


def test_a_missing_committed_record_is_named_with_its_command_and_never_trained(real_fmnist_dir, tmp_path):
    """The benchmark's own cells (in this process, tests/nbexec.py) asked in the full profile for a
    seed that has no committed record: the run cell fails, naming the record and the grid command."""
    import os

    from nbexec import run_in_process

    runs = Path(os.environ["IMBALANCED_CONTRASTIVE_RUNS"])
    parameters = {"profile": "full", "output_dir": str(tmp_path), "seeds": [0, 7], "methods": ["ce", "bcl"]}
    outcome = run_in_process(REPO / "notebooks" / "06_benchmark.ipynb", {**parameters, "prior_stage2": []}, tmp_path)
    code = [
        c for c in nbformat.read(REPO / "notebooks" / "06_benchmark.ipynb", as_version=4).cells if c.cell_type == "code"
    ]
    assert outcome.failed_cell is not None and "chapter.run(" in code[outcome.failed_cell].source, outcome
    message = str(outcome.error)
    assert "2 of 4 runs have no committed record" in message and "fmnist/full/bcl/seed7" in message
    assert "grid --profile full --dataset fmnist --methods bcl --seeds 7" in message
    assert not list(runs.rglob("record.json")), "a missing record is never trained in the full profile"


def test_auto_trains_on_a_cuda_device_and_loads_on_a_cpu(results, real_fmnist_dir, monkeypatch, tmp_path, capsys):
    """``train="auto"`` in a committed profile: on a (faked) CUDA device the chapter trains its
    configs, on a CPU it loads their committed records; each says so, and how to do the other."""
    import torch

    from imbalanced_contrastive.chapter import decide_training

    _smoke_grid(results)
    monkeypatch.setattr(committed, "run_folder", lambda c: "fmnist/smoke/ce/seed0")
    trained: list[list[str]] = []

    def fake_run_all(configs):
        trained.append(list(configs))
        return {name: RunRecord.load(results / "fmnist/smoke/ce/seed0") for name in configs}

    monkeypatch.setattr("imbalanced_contrastive.chapter.run_all", fake_run_all)
    configs = {"CE": make_config("ce", "smoke")}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    on_gpu = Chapter("demo", "full", output_dir=tmp_path)
    assert on_gpu.train and not on_gpu.loads_committed
    assert "train='auto' on a CUDA device" in capsys.readouterr().out
    on_gpu.run(configs)
    assert trained == [["CE"]] and on_gpu.committed_records is not None  # and the committed ones to compare
    assert decide_training("auto", "full", "cpu")[0] is False, "device='cpu' loads even where a GPU exists"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    on_cpu = Chapter("demo", "full", output_dir=tmp_path)
    out = capsys.readouterr().out
    assert on_cpu.loads_committed and "without a CUDA device" in out and "set train=True" in out
    on_cpu.run(configs)
    assert trained == [["CE"]], "a CPU with train='auto' trains nothing"
    assert "nothing was trained" in capsys.readouterr().out
    assert decide_training("auto", "full", "cuda:0")[0] is True
    assert decide_training("auto", "quick", "cpu")[0] is True, "the small profiles train anywhere"
    assert decide_training(True, "full", "cpu")[0] is True and decide_training(False, "full", "cuda")[0] is False
    for wrong in ("yes", 1, None):
        with pytest.raises(ValueError, match="train must be one of 'auto', True or False"):
            decide_training(wrong, "full")


def test_a_readers_runs_are_compared_with_the_committed_ones(results, real_fmnist_dir, monkeypatch, tmp_path):
    """A chapter trained in a committed profile shows the reader's runs beside the committed records
    of the same configs, with the book's noise rule: here smoke runs against stand-in committed
    records, once as they are (within noise) and once about 20 points lower (beyond it)."""
    import math
    import os

    _smoke_grid(results, ("ce",), (0, 1, 2))
    monkeypatch.setattr(committed, "run_folder", lambda c: f"fmnist/smoke/ce/seed{c.seed}")
    configs = {f"CE seed {s}": make_config("ce", "smoke", seed=s) for s in (0, 1, 2)}
    chapter = Chapter("demo", "full", output_dir=tmp_path, train=True)
    before = committed.committed_files(results)
    mine = chapter.run(configs)  # trained into (or loaded from) the runs folder; results/ untouched
    assert committed.committed_files(results) == before
    assert len(list(Path(os.environ["IMBALANCED_CONTRASTIVE_RUNS"]).rglob("record.json"))) >= 3
    table = chapter.reproduction(mine)
    frame = table.frame
    assert list(frame.index) == ["CE"] and frame.loc["CE", "seeds (yours / committed)"] == "3 / 3"
    assert frame.loc["CE", "balanced acc.: difference"].startswith("+0.0 (within noise")
    assert any("agreement within noise" in note for note in table.notes)
    shifted = []
    for s in (0, 1, 2):  # the committed records about 20 points lower, each seed a little differently
        path = results / f"fmnist/smoke/ce/seed{s}/record.json"
        data = json.loads(path.read_text())
        data["metrics"]["balanced_accuracy"] -= 0.2 - 0.01 * s
        shifted.append(data["metrics"]["balanced_accuracy"])
        path.write_text(json.dumps(data))
    chapter = Chapter("demo", "full", output_dir=tmp_path, train=True)
    frame = chapter.reproduction(chapter.run(configs)).frame
    verdict = frame.loc["CE", "balanced acc.: difference"]
    assert "(above, Holm p" in verdict, verdict
    expected = 100 * (sum(r.metrics["balanced_accuracy"] for r in mine.values()) - sum(shifted)) / 3
    assert math.isclose(float(verdict.split()[0]), expected, abs_tol=0.051), (verdict, expected)
    assert Chapter("demo", "full", output_dir=tmp_path, train=False).reproduction(mine) is None
