"""The records committed under results/: complete, readable, made from a clean commit, small, and
made by the current settings of their profile (a version bump alone does not invalidate them)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO

from imbalanced_contrastive import committed, grid
from imbalanced_contrastive.records import EMBEDDING_FILE, RunRecord
from imbalanced_contrastive.training.config import make_config

RESULTS = REPO / "results"
RECORDS = sorted(p.parent for p in RESULTS.glob("*/*/*/seed*/record.json"))
MAX_BYTES = 25 * 1024 * 1024  # issue #30: results/ stays at most 25 MB


def _folder(path) -> str:
    return path.relative_to(RESULTS).as_posix()


def test_the_full_grid_is_committed():
    folders = {_folder(p) for p in RECORDS}
    wanted = {f"fmnist/full/{m}/seed{s}" for m in grid.GRID_METHODS for s in grid.GRID_SEEDS}
    assert wanted <= folders, f"missing committed records {sorted(wanted - folders)}; make them with `make grid`"
    whole = grid.benchmark_configs("full", "fmnist")
    assert len(whole) == (len(grid.GRID_METHODS) + len(grid.PRIOR_STAGE2_METHODS)) * len(grid.GRID_SEEDS)
    missing = [name for name, config in whole.items() if not (RESULTS / committed.run_folder(config)).is_dir()]
    assert not missing, f"the benchmark's runs without a committed record: {missing}; make them with `make grid`"


def test_everything_the_committed_profile_shows_is_committed():
    """Every config of :func:`grid.committed_grid` (the benchmark and each chapter's runs at its
    defaults, seeds 0-2) has a committed record with its settings; each chapter's configs are among
    them (one definition: the chapters, the grid and this test read grid.py)."""
    wanted = grid.committed_grid("full", "fmnist")
    missing = []
    for name, config in wanted.items():
        folder = RESULTS / committed.run_folder(config)
        if not (folder / "record.json").is_file():
            missing.append(f"{name}: {committed.grid_command(config)}")
            continue
        diff = committed.differences(
            committed.settings_of(RunRecord.load(folder).config), committed.settings_of(config)
        )
        if diff:
            missing.append(f"{name} ({'; '.join(diff)}): {committed.grid_command(config)}")
    assert not missing, "runs the full profile shows without a current committed record; make them:\n" + "\n".join(
        missing
    )
    folders = {committed.run_folder(c) for c in wanted.values()}
    for chapter, make in grid.CHAPTER_RUNS.items():
        configs = grid.chapter_configs(make(), "full", "fmnist", grid.GRID_SEEDS)
        assert len(configs) >= 3 * len(make().runs), f"{chapter}: three seeds of every run"
        assert {committed.run_folder(c) for c in configs.values()} <= folders, chapter
    assert {_folder(p) for p in RECORDS} == folders, "results/ holds the committed grid's records and nothing else"


def test_only_the_drawn_runs_keep_a_large_embedding_sample():
    """results/ stays small because a run no page draws keeps :data:`grid.SMALL_SAMPLE` embeddings:
    the benchmark's runs and the first seed of each chapter's drawn runs keep the profile's sample."""
    benchmark = grid.benchmark_configs("full", "fmnist").values()
    large = {committed.run_folder(c) for c in benchmark if c.stage2_loss == "ce"}  # not the stage-2 variants
    for make in grid.CHAPTER_RUNS.values():
        runs = make()
        configs = grid.chapter_configs(runs, "full", "fmnist", grid.GRID_SEEDS)
        large |= {committed.run_folder(configs[f"{label} seed {grid.GRID_SEEDS[0]}"]) for label in runs.drawn}
    check = grid.committed_grid("full", "fmnist")["schedule check: ce on the balanced set seed 0"]
    large.add(committed.run_folder(check))  # made before the rule (grid.SCHEDULE_CHECK says so)
    for folder in RECORDS:
        n = len(RunRecord.load(folder).embedding_indices)
        if _folder(folder) in large:
            assert n > grid.SMALL_SAMPLE, f"{_folder(folder)} is drawn: it keeps the profile's sample ({n})"
        else:
            assert n <= grid.SMALL_SAMPLE, f"{_folder(folder)}: no page draws it, yet it keeps {n} embeddings"


def test_results_folder_is_small_and_holds_only_records():
    files = [p for p in RESULTS.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= MAX_BYTES
    extra = [p for p in files if p.name not in (*committed.FILES, "README.md")]
    assert not extra, f"results/ holds only records (record.json, {EMBEDDING_FILE}) and its README: {extra}"


def test_manifest_lists_every_committed_file_with_its_checksum():
    assert committed.read_manifest() == committed.committed_files(RESULTS), (
        "src/imbalanced_contrastive/results_manifest.json is out of date: rewrite it with "
        "python -c 'from imbalanced_contrastive.committed import write_manifest; write_manifest()'"
    )


@pytest.mark.parametrize("folder", RECORDS, ids=_folder)
def test_committed_record_reads_back_with_clean_provenance_and_a_compact_sample(folder, fmnist_test_labels):
    record = RunRecord.load(folder)
    dataset, profile, run, seed = _folder(folder).split("/")
    config = record.config
    assert (config["dataset"], config["profile"], f"seed{config['seed']}") == (dataset, profile, seed)
    assert run.split("-")[0] == config["method"]
    prov = record.provenance
    assert re.fullmatch(r"[0-9a-f]{40}", str(prov["git_commit"])), f"{folder}: made from uncommitted code {prov}"
    assert prov["device"] and prov["torch"] and prov["date"] and prov["package_version"]
    emb = record.embeddings
    assert emb.dtype == np.float16 and emb.ndim == 2 and 0 < len(emb) <= 1000
    n_test = sum(prov["data"]["test_counts"])
    idx = record.embedding_indices
    assert len(idx) == len(emb) == len(record.embedding_labels) == len(record.embedding_predictions)
    assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < n_test
    assert set(np.unique(record.embedding_predictions)) <= set(range(len(prov["classes"])))
    if dataset == "fmnist" and config["test_per_class"] is None:  # the whole test set, in its order
        assert np.array_equal(fmnist_test_labels[idx], record.embedding_labels)
    assert 0.0 < record.metrics["balanced_accuracy"] <= 1.0


def test_committed_records_have_their_profiles_current_settings():
    stale = []
    for folder in RECORDS:
        record = RunRecord.load(folder)
        c = record.config
        overrides = record.provenance.get("overrides", {})  # what the grid's --set changed, if anything
        current = make_config(c["method"], c["profile"], c["dataset"], seed=c["seed"], **overrides)
        diff = committed.differences(committed.settings_of(record.config), committed.settings_of(current))
        if committed.run_folder(current) != _folder(folder) or diff:
            stale.append(
                f"{_folder(folder)} ({'; '.join(diff) or 'another folder'}): {committed.grid_command(current)}"
            )
    assert not stale, "committed records no longer match their profile's settings; remake them:\n" + "\n".join(stale)


def test_readme_states_what_the_committed_records_show():
    """The README's full-profile numbers are the committed records' (audit.readme_statements: the
    best of every committed config on step-imbalanced data, how many are within noise of it,
    cross-entropy's value, the balanced-set check); a new or remade record that changes any of them
    fails this test until the sentence changes."""
    from imbalanced_contrastive.audit import readme_problems, readme_statements

    records = [RunRecord.load(f) for f in RECORDS]
    assert len(readme_statements(records)) == 4
    assert not readme_problems(records, REPO / "README.md")
    readme = (REPO / "README.md").read_text()
    balanced = [RunRecord.load(f) for f in RECORDS if RunRecord.load(f).config["imbalance"] == "none"]
    assert len(balanced) == 1, "the balanced-set check of the full schedule is committed (one run)"
    check = balanced[0].metrics["balanced_accuracy"]
    assert check >= 0.89 and f"{100 * check:.2f} %" in readme
