"""The book's noise rule: Welch's test, Holm's correction and the family comparisons, against
values computed by hand; and the findings a chapter shows, against the records they come from."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t as student_t

from imbalanced_contrastive.significance import (
    FAMILY_CONTRASTS,
    LEVEL,
    NOISE_RULE,
    compare,
    family_pairs,
    format_p,
    holm,
    welch_p,
)


def test_holm_against_hand_computed_values():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> max(0.06, 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])  # one test: unchanged
    assert holm([]) == []
    with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\]"):
        holm([0.2, 1.5])


def _welch_by_hand(ma, sa, na, mb, sb, nb):
    va, vb = sa**2 / na, sb**2 / nb
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return 2 * student_t.sf(abs(t), df)


def test_welch_against_the_formula():
    # t = 0.09 / sqrt(0.02**2/3 + 0.01**2/3) = 6.971, Welch-Satterthwaite df = 2.94
    p = welch_p(0.76, 0.02, 3, 0.67, 0.01, 3)
    assert p == pytest.approx(_welch_by_hand(0.76, 0.02, 3, 0.67, 0.01, 3), rel=1e-9)
    assert 0.005 < p < 0.01
    assert welch_p(0.5, 0.0, 3, 0.4, 0.0, 3) == 0.0 and welch_p(0.5, 0.0, 3, 0.5, 0.0, 3) == 1.0
    with pytest.raises(ValueError, match="two or more seeds"):
        welch_p(0.5, 0.1, 1, 0.4, 0.1, 3)


def _row(label, bal, bal_std, few=None, few_std=None, seeds=3):
    return {
        "method": label.split(" ")[0],
        "label": label,
        "seeds": list(range(seeds)),
        "balanced_accuracy_mean": bal,
        "balanced_accuracy_std": bal_std,
        "few_mean": few,
        "few_std": few_std,
    }


def test_family_comparison_tests_every_pair_and_corrects_them_together():
    rows = [
        _row("cl", 0.69, 0.01, 0.30, 0.02),
        _row("fcl", 0.69, 0.005, 0.31, 0.02),
        _row("acl", 0.71, 0.01, 0.35, 0.02),
        _row("afcl", 0.712, 0.004, 0.35, 0.01),
        _row("bcl", 0.76, 0.01, 0.5, 0.01, seeds=1),  # one seed: never tested
    ]
    pairs = family_pairs(rows, FAMILY_CONTRASTS["ACL/AFCL against CL/FCL"])
    assert pairs == [("acl", "cl"), ("acl", "fcl"), ("afcl", "cl"), ("afcl", "fcl")]
    assert family_pairs(rows, FAMILY_CONTRASTS["BCL/RCL/ResCom against Balanced Softmax"]) == []  # absent rows
    stage2 = FAMILY_CONTRASTS["a Balanced Softmax stage 2 against a cross-entropy one"]
    assert all(a.startswith(b + " (stage 2") for a, b in stage2), "each method against itself: only stage 2 differs"
    tests = compare(rows, pairs, ["balanced_accuracy", "few"])
    assert len(tests) == 8
    by = {(c.label, c.against, c.metric): c for c in tests}
    raw = {k: _welch_by_hand(*_stats(rows, k[0], k[2]), *_stats(rows, k[1], k[2])) for k in by}
    assert {k: c.p for k, c in by.items()} == pytest.approx(raw, rel=1e-9)
    # Holm by hand: the k-th smallest of 8 times (8 - k + 1), running maximum, capped at 1
    order = sorted(raw, key=raw.get)
    running, expected = 0.0, {}
    for k, key in enumerate(order):
        running = max(running, min(1.0, (8 - k) * raw[key]))
        expected[key] = running
    assert {k: c.p_holm for k, c in by.items()} == pytest.approx(expected, rel=1e-9)
    c = by[("acl", "cl", "balanced_accuracy")]
    assert c.difference == pytest.approx(2.0) and c.verdict == ("above" if c.p_holm < LEVEL else "within noise")
    assert all((c.verdict != "within noise") == (c.p_holm < LEVEL) for c in tests)
    assert compare(rows, [("bcl", "cl")], ["balanced_accuracy"]) == []
    with pytest.raises(ValueError, match="two summary rows are labelled 'cl'"):
        compare([*rows, rows[0]], pairs, ["few"])


def _stats(rows, label, metric):
    r = next(r for r in rows if r["label"] == label)
    return r[f"{metric}_mean"], r[f"{metric}_std"], len(r["seeds"])


def test_p_values_and_the_rule_read_as_a_reader_reads_them():
    assert format_p(0.0004) == "p < 0.001" and format_p(0.0123) == "p = 0.012"
    assert "Holm" in NOISE_RULE and "Welch" in NOISE_RULE and "0.05" in NOISE_RULE


def _run(method, seed, bal, few, seconds=10.0, **config):
    from imbalanced_contrastive.records import RunRecord

    cfg = {
        "method": method,
        "seed": seed,
        "dataset": "fmnist",
        "imbalance": "step",
        "ratio": 10.0,
        "profile": "quick",
        "recipe": {"ce": "supervised", "balanced_softmax": "supervised"}.get(method, "bcl"),
        "loss_params": {},
        "cache_key": f"{method}-{seed}-{config}",
        **config,
    }
    metrics = {"accuracy": bal, "balanced_accuracy": bal, "many": 0.9, "medium": None, "few": few}
    return RunRecord(config=cfg, metrics=metrics, wall_time_s=seconds, provenance={"device": "cpu:test"})


def test_findings_state_what_the_records_hold():
    from imbalanced_contrastive.findings import findings

    bal = {"ce": (0.67, 0.66, 0.68), "balanced_softmax": (0.75, 0.76, 0.74), "bcl": (0.76, 0.77, 0.75)}
    few = {"ce": (0.27, 0.26, 0.28), "balanced_softmax": (0.50, 0.51, 0.49), "bcl": (0.51, 0.52, 0.50)}
    records = {f"{m} seed {s}": _run(m, s, bal[m][s], few[m][s]) for m in bal for s in range(3)}
    found = findings(records, baseline="ce", methods_order=list(bal))
    lines = found.markdown.splitlines()
    # bcl: mean 0.76, sample std 0.01 -> "76.0 ± 1.0 %"; ce is the lowest, 67.0 ± 1.0 %
    assert lines[0] == (
        "* Highest balanced accuracy: **bcl**, 76.0 ± 1.0 %; lowest: ce, 67.0 ± 1.0 % "
        "(mean ± standard deviation over the seeds)."
    )
    assert "Highest minority (*few*) recall: **bcl**, 51.0 ± 1.0 %" in lines[1]
    # Welch by hand: bcl vs ce, 9 points over sqrt(2 * 0.01**2 / 3); 4 tests corrected together (Holm)
    raw = {
        (m, metric): _welch_by_hand(100 * sum(v[m]) / 3, 1.0, 3, 100 * sum(v["ce"]) / 3, 1.0, 3)
        for m in ("balanced_softmax", "bcl")
        for metric, v in (("balanced_accuracy", bal), ("few", few))
    }
    holm_by_hand = dict(zip(sorted(raw, key=raw.get), [4, 3, 2, 1], strict=True))
    expected = {}
    running = 0.0
    for key in sorted(raw, key=raw.get):
        running = max(running, holm_by_hand[key] * raw[key])
        expected[key] = running
    assert f"bcl (+9.0 points, Holm {format_p(expected[('bcl', 'balanced_accuracy')])})" in lines[2]
    assert found.facts["above_ce_balanced_accuracy"] == ["balanced_softmax", "bcl"]
    assert "within noise" in found.markdown  # BCL/RCL/ResCom against Balanced Softmax: +1 point, within noise
    assert "BCL/RCL/ResCom against Balanced Softmax: 0 of 2 tests beyond noise" in found.markdown
    assert "Training time held in the records: 90 s for 9 runs (10 to 10 s each) on cpu:test" in found.markdown
    assert found.facts["best"] == "bcl" and found.facts["best_balanced_accuracy"] == pytest.approx(0.76)
    one = findings({"ce": _run("ce", 0, 0.6, 0.2), "bcl": _run("bcl", 0, 0.7, 0.4)})
    assert "One seed per run" in one.markdown and "Holm" not in one.markdown
    assert one.markdown.startswith("* Highest balanced accuracy: **bcl**, 70.0 %; lowest: ce, 60.0 % (one seed).")
    with pytest.raises(ValueError, match="one dataset and profile"):
        findings({"a": _run("ce", 0, 0.6, 0.2), "b": _run("ce", 1, 0.6, 0.2, profile="smoke")})
