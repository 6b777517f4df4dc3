"""Results tables: seeds averaged, settings kept apart, papers' numbers only where the specs have them."""

from __future__ import annotations

import math

import pytest
from scipy.stats import ttest_ind

from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.results_table import compare_with, find_records, markdown_table, summarize, write_tables
from imbalanced_contrastive.simulation import pair_frequency_matrix, simulate_pair_counts


def _record(method, seed, bal, dataset="cifar100", imbalance="long_tail", ratio=100.0, **loss_params):
    config = {
        "method": method,
        "seed": seed,
        "dataset": dataset,
        "imbalance": imbalance,
        "ratio": ratio,
        "profile": "paper",
        "recipe": "bcl",
        "loss_params": loss_params,
        "cache_key": f"{method}-{seed}",
    }
    metrics = {"accuracy": bal, "balanced_accuracy": bal, "many": 0.9, "medium": None, "few": bal / 2}
    return RunRecord(config=config, metrics=metrics)


def test_summary_over_seeds_and_paper_column(tmp_path):
    recs = [_record("bcl", s, b, temperature=0.1) for s, b in ((0, 0.50), (1, 0.52), (2, 0.54))]
    recs += [
        _record("bcl", 0, 0.40, temperature=0.2),
        _record("ce", 0, 0.3, dataset="fmnist", imbalance="step", ratio=10.0),
    ]
    rows = summarize(recs, methods_order=["ce", "bcl"])
    bcl = [r for r in rows if r["method"] == "bcl"]
    assert len(bcl) == 2, "runs with other settings must not be averaged together"
    main = next(r for r in bcl if r["seeds"] == [0, 1, 2])
    assert math.isclose(main["balanced_accuracy_mean"], 0.52) and math.isclose(main["balanced_accuracy_std"], 0.02)
    assert main["medium_mean"] is None
    assert main["paper_reported"].startswith("51.9") and "BCL paper" in main["paper_source"]
    fm = next(r for r in rows if r["dataset"] == "fmnist")
    assert fm["paper_reported"] is None and "not recoverable" in fm["paper_source"]
    table = markdown_table(rows)
    assert "52.0 ± 2.0" in table and "51.9" in table and "not reported [" in table and "τ=0.1" in table
    for r in recs[:1]:
        r.save(tmp_path / "runs" / "a")
    md, csv = write_tables(summarize(find_records(tmp_path / "runs", tmp_path / "missing")), tmp_path)
    assert md.read_text().count("| bcl |") == 1 and csv.read_text().startswith("dataset,")


def test_dual_imbalance_simulation_matches_the_spec():
    m = pair_frequency_matrix(10, 10.0)
    assert [round(x, 2) for x in m[0]] == [1.0, 0.77, 0.6, 0.46, 0.36, 0.28, 0.22, 0.17, 0.13, 0.1]
    assert round(m[9, 9], 2) == 0.01
    from imbalanced_contrastive.data import long_tail_counts

    sim = simulate_pair_counts(long_tail_counts(500, 100, 100.0), batch_size=128, n_batches=2000, seed=0)
    ratio = sim.batch_positive_pairs[0] / sim.batch_positive_pairs[-1]
    assert ratio > 300, (
        "positive pairs are imbalanced far beyond the sample ratio (ResCom's dual-imbalance analysis: about 1,000)"
    )
    assert 0.5 < sim.fifo_queue_empty[-1] < 0.75  # spec: 0.624
    weighted = sim.weighted_queue_positive_mass
    assert 0.7 < weighted[0] / weighted[-1] < 1.4  # balanced by the weights and the class-balanced queue


def test_settings_in_a_different_order_are_one_experiment(tmp_path):
    """Records are grouped by the values of their settings, never by the order they were written in
    (the benchmark once listed CL/FCL/ACL/AFCL twice: seed 0 in one row, seeds 1-2 in another)."""
    from imbalanced_contrastive.results_table import describe_settings

    a = _record("cl", 0, 0.50, temperature=0.07, normalization="official")
    b = _record("cl", 1, 0.54, normalization="official", temperature=0.07)
    c = _record("cl", 2, 0.52, **dict(reversed(list(a.config["loss_params"].items()))))
    b.config = dict(reversed(list(b.config.items())))  # top-level keys in another order too
    assert list(a.config["loss_params"]) != list(b.config["loss_params"])
    rows = summarize([a, b, c])
    assert len(rows) == 1 and rows[0]["seeds"] == [0, 1, 2]
    assert describe_settings(a.config) == describe_settings(b.config) == rows[0]["settings"]
    for r in (a, b, c):
        r.save(tmp_path / "runs" / str(r.config["seed"]))
    md, csv = write_tables(summarize(find_records(tmp_path / "runs")), tmp_path)
    assert md.read_text().count("| cl |") == 1 and len(csv.read_text().strip().splitlines()) == 2


def test_differences_with_the_baseline_are_judged_against_seed_noise():
    few = {"ce": [0.26, 0.28, 0.27], "balanced_softmax": [0.48, 0.50, 0.47], "focal": [0.25, 0.30, 0.28]}
    recs = [
        _record(m, s, 2 * v, dataset="fmnist", imbalance="step", ratio=10.0)
        for m, vs in few.items()
        for s, v in enumerate(vs)
    ]
    recs.append(_record("bcl", 0, 0.9, dataset="fmnist", imbalance="step", ratio=10.0))  # one seed: no verdict
    recs += [_record("ce", s, 0.1, dataset="cifar100") for s in range(3)]  # other data: never compared
    out = {r["method"]: r for r in compare_with(summarize(recs), "ce", "few")}
    assert set(out) == {"balanced_softmax", "focal"}
    assert out["balanced_softmax"]["verdict"] == "above" and out["balanced_softmax"]["difference"] == pytest.approx(
        21.3, abs=0.05
    )
    assert out["focal"]["verdict"] == "within noise"
    for method in out:  # the p-value from the summary statistics is Welch's test on the seeds themselves
        assert out[method]["p_value"] == pytest.approx(
            ttest_ind(few[method], few["ce"], equal_var=False).pvalue, abs=1e-4
        )
    lower = compare_with(summarize(recs), "balanced_softmax", "few")
    assert next(r for r in lower if r["method"] == "ce")["verdict"] == "below"


def test_comparison_arguments_are_validated():
    recs = [_record("ce", 0, 0.5)]
    with pytest.raises(ValueError, match="metric must be one of"):
        compare_with(summarize(recs), "ce", "recall")
    with pytest.raises(ValueError, match="no summary row of baseline 'ce' has 'few' over two or more seeds"):
        compare_with(summarize(recs), "ce", "few")
    with pytest.raises(ValueError, match="level must be in"):
        compare_with(summarize(recs), "ce", level=5)
