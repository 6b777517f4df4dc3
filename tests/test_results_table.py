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
    assert "52.0 ± 2.0" in table and "51.9" in table and "not reported [" in table and "| bcl (τ=0.2) |" in table
    assert "## CIFAR-100, long-tail imbalance, ratio 100" in table and "## Fashion-MNIST, step imbalance" in table
    header = next(line for line in table.splitlines() if line.startswith("| profile"))
    assert header.index("balanced acc. %") < header.index("few %") < header.index("many %")
    assert "accuracy %" not in header.replace("balanced acc. %", "") and "medium %" not in header
    assert "accuracy % is left out: it equals balanced accuracy in every row" in table
    assert "medium % is left out: no class is in that group." in table
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


def _rcl(**params):
    return {"method": "rcl", "recipe": "bcl", "loss_params": params}


def test_run_labels_say_what_a_run_adds():
    from imbalanced_contrastive.results_table import run_label

    assert (
        run_label({"method": "acl", "recipe": "two_stage", "loss_params": {"eta": 100.0, "temperature": 0.07}}) == "acl"
    )
    assert run_label({"method": "acl", "recipe": "two_stage", "loss_params": {"eta": 10.0}}) == "acl (η=10)"
    assert run_label({"method": "cl", "recipe": "two_stage", "stage2_loss": "focal", "loss_params": {}}) == (
        "cl (stage 2: focal)"
    )
    assert run_label(_rcl(balance_strength=0.0, feature_scale=1.2247, margin=0.0)) == "BCL + feature scale"
    assert run_label(_rcl(balance_strength=0.0, feature_scale=1.0, margin=0.0)) == "BCL"
    assert run_label(_rcl(balance_strength=0.0, feature_scale=1.0, margin=0.0, class_averaging=False)) == (
        "BCL without class-averaging"
    )
    assert run_label(_rcl(balance_strength=1.0, feature_scale=1.0, margin=0.1)) == "BCL + class balance + margin"
    assert run_label(_rcl()) == "rcl"


def test_reader_tables_drop_equal_and_empty_columns_and_say_so():
    from imbalanced_contrastive.chapter import comparison_frame, summary_frame
    from imbalanced_contrastive.results_table import records_frame

    recs = {f"run {b}": _record("bcl", 0, b) for b in (0.5, 0.6)}
    table = records_frame(recs)
    assert list(table.frame.columns) == ["balanced acc. %", "few %", "many %", "time (s)"]
    assert table.frame.loc["run 0.6", "few %"] == 30.0
    assert any("accuracy % is left out: it equals balanced acc. %" in n and "balanced" in n for n in table.notes)
    assert any(n.startswith("medium % is left out") for n in table.notes)
    html = table._repr_html_()
    assert "reader-table" in html and "table-notes" in html and "medium %" not in html.split("<p")[0]
    rows = summarize(
        [_record("bcl", s, 0.5 + s / 100) for s in range(3)] + [_record("ce", s, 0.4 + s / 50) for s in range(3)]
    )
    summary = summary_frame(rows)
    assert list(summary.frame.columns) == ["seeds", "balanced acc. %", "few %", "many %"]
    assert summary.frame.loc["bcl", "balanced acc. %"] == "51.0 ± 1.0"
    comparison = comparison_frame(rows, "ce")
    assert (
        list(comparison.frame.index) == ["bcl"]
        and comparison.frame.loc["bcl", "balanced acc. vs ce"].startswith("+")
        and "(above, Holm p" in comparison.frame.loc["bcl", "balanced acc. vs ce"]
    )
    assert "Holm" in comparison.notes[0] and "Welch" in comparison.notes[1]


def test_benchmark_figure_groups_methods_by_family():
    import matplotlib

    matplotlib.use("Agg")
    from imbalanced_contrastive.results_table import FAMILY_COLORS, family_of, order_by_family
    from imbalanced_contrastive.viz import plot_benchmark

    methods = ["bcl", "ce", "acl", "focal", "balanced_softmax", "cl"]
    rows = summarize(
        [
            _record(m, s, 0.6 + i / 50 + s / 200, dataset="fmnist", imbalance="step", ratio=10.0)
            for i, m in enumerate(methods)
            for s in range(3)
        ],
        methods_order=methods,
    )
    ordered = [r["method"] for r in order_by_family(rows)]
    assert ordered == ["ce", "focal", "acl", "cl", "bcl", "balanced_softmax"]  # by family, else as given
    assert family_of("rescom") == "one-stage prior-corrected" and family_of("afcl") == "two-stage contrastive"
    with pytest.raises(ValueError, match="in no family"):
        family_of("simclr")
    fig = plot_benchmark(rows)
    left, few, tradeoff = fig.axes[:3]
    assert [t.get_text() for t in left.get_yticklabels()] == ordered
    lo, hi = left.get_xlim()
    assert 55 < lo < 60 and 70 < hi < 75, "the axis fits the data (in %), not 0 to 1"
    dashed = [line for line in left.get_lines() if line.get_linestyle() == "--"]
    ce = next(r for r in rows if r["method"] == "ce")
    assert len(dashed) == 1 and abs(dashed[0].get_xdata()[0] - 100 * ce["balanced_accuracy_mean"]) < 1e-9
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "baseline",
        "loss re-weighting",
        "two-stage contrastive",
        "one-stage prior-corrected",
        "ce (reference)",
    ]
    point_colors = {matplotlib.colors.to_hex(c.get_children()[0].get_color()) for c in left.containers}
    assert point_colors == {FAMILY_COLORS[f] for f in legend[:-1]}
    assert tradeoff.get_xlabel().startswith("many") and tradeoff.get_ylabel().startswith("few")
