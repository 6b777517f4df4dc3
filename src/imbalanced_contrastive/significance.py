"""Is a difference between two methods larger than the seed noise? One rule for the whole book.

Every chapter, table and finding of the companion judges a difference the same way
(:data:`NOISE_RULE`): Welch's two-sided t-test on the two methods' runs over the seeds, with
Holm's correction across the tests of one table (:func:`holm`), at level :data:`LEVEL`.
Comparisons are made between summary rows (:func:`~imbalanced_contrastive.results_table.summarize`)
of the same data and profile, named by their run label (``acl``, ``cl (stage 2: balanced_softmax)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LEVEL = 0.05
"""The significance level of every comparison in the book (after Holm's correction)."""

NOISE_RULE = (
    "A difference counts as larger than the seed noise when Welch's two-sided t-test over the seeds, "
    "with Holm's correction across the tests of its table, gives p < 0.05; otherwise it is within noise."
)
"""The book's one noise rule, stated where a table or finding uses it (and on the Reproducibility page)."""

WELCH = (
    "Welch's t-test asks whether two methods could have the same mean result over the seeds, given each "
    "method's own seed-to-seed spread (the two spreads need not be equal); its p-value is the chance of a "
    "difference at least this large if the means were equal. Holm's correction keeps the chance of even one "
    "false 'beyond noise' in a table below 5 %, however many tests the table holds. With three seeds per "
    "method only differences of several standard deviations pass; 'within noise' means the runs cannot tell, "
    "not that the methods are equal."
)
"""What the test and the correction mean, in a reader's words."""


def all_pairs(family: tuple[str, ...], others: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Every (member of ``family``, member of ``others``) pair."""
    return tuple((a, b) for a in family for b in others)


FAMILY_CONTRASTS: dict[str, tuple[tuple[str, str], ...]] = {
    "ACL/AFCL against CL/FCL": all_pairs(("acl", "afcl"), ("cl", "fcl")),
    "BCL/RCL/ResCom against Balanced Softmax": all_pairs(("bcl", "rcl", "rescom"), ("balanced_softmax",)),
    "a Balanced Softmax stage 2 against a cross-entropy one": (
        ("cl (stage 2: balanced_softmax)", "cl"),
        ("acl (stage 2: balanced_softmax)", "acl"),
    ),
}
"""The book's family comparisons: name -> the ``(label, against)`` pairs it tests (run labels of
summary rows); pairs whose rows are absent are skipped. The stage-2 comparison pairs each method
with itself, so that only the classifier differs."""


def welch_p(mean_a: float, std_a: float, n_a: int, mean_b: float, std_b: float, n_b: int) -> float:
    """Welch's two-sided p-value from two groups' means, sample standard deviations and sizes.

    Two groups without spread give 0 when their means differ and 1 when they are equal.

    Raises:
        ValueError: a group has fewer than two values or a negative standard deviation.
    """
    from scipy.stats import ttest_ind_from_stats

    if n_a < 2 or n_b < 2:
        raise ValueError(f"Welch's test needs two or more seeds per group; got {n_a} and {n_b}")
    if std_a < 0 or std_b < 0:
        raise ValueError(f"standard deviations must be >= 0; got {std_a} and {std_b}")
    if std_a == 0 and std_b == 0:
        return 0.0 if mean_a != mean_b else 1.0
    return float(ttest_ind_from_stats(mean_a, std_a, n_a, mean_b, std_b, n_b, equal_var=False).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input's order.

    Sorted ascending, the k-th smallest of m p-values becomes ``max_{j<=k} min(1, (m - j + 1) p_(j))``;
    rejecting where the adjusted value is below the level controls the family-wise error rate.

    Raises:
        ValueError: a p-value outside [0, 1].
    """
    p = [float(v) for v in p_values]
    if any(not 0 <= v <= 1 or math.isnan(v) for v in p):
        raise ValueError(f"p-values must be in [0, 1]; got {p}")
    m = len(p)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda k: p[k])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def format_p(p: float) -> str:
    """A p-value as a reader reads it: ``p = 0.012``, or ``p < 0.001``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


@dataclass(frozen=True)
class Comparison:
    """One test of a table: ``label`` against ``against`` on ``metric``.

    Attributes:
        label, against: the two rows' run labels.
        metric: a metric of :data:`~imbalanced_contrastive.results_table.METRICS`.
        difference: ``label`` minus ``against``, in points of % (mean over seeds).
        p: Welch's two-sided p-value.
        p_holm: ``p`` after Holm's correction across the comparisons made with it.
        verdict: ``"above"``, ``"below"`` or ``"within noise"`` (from ``p_holm`` at :data:`LEVEL`).
    """

    label: str
    against: str
    metric: str
    difference: float
    p: float
    p_holm: float
    verdict: str

    @property
    def beyond_noise(self) -> bool:
        return self.verdict != "within noise"


def label_of(row: dict) -> str:
    """The run label of a summary row (its method where it has none)."""
    return row.get("label") or row["method"]


def testable(row: dict, metric: str) -> bool:
    """Whether a summary row has ``metric`` over two or more seeds."""
    return row.get(f"{metric}_mean") is not None and row.get(f"{metric}_std") is not None and n_of(row, metric) > 1


def n_of(row: dict, metric: str) -> int:
    """How many seeds of a summary row have a value of ``metric`` (the ``n`` of its mean and standard
    deviation; a seed without the value does not count)."""
    return int(row.get(f"{metric}_n", len(row["seeds"])))


def compare(rows: Iterable[dict], pairs: Iterable[tuple[str, str]], metrics: Iterable[str]) -> list[Comparison]:
    """Test each ``(label, against)`` pair on each metric and correct the p-values together (Holm).

    Pairs whose rows are missing or not testable (one seed, no value) are skipped.

    Args:
        rows: summary rows of one dataset and profile (labels unique).
        pairs: ``(label, against)`` run labels.
        metrics: the metrics to test; every test of the call is one Holm family.

    Raises:
        ValueError: two rows share a label (the rows mix datasets or profiles).
    """
    by_label: dict[str, dict] = {}
    for row in rows:
        if label_of(row) in by_label:
            raise ValueError(
                f"two summary rows are labelled {label_of(row)!r}: compare one dataset and profile at a time"
            )
        by_label[label_of(row)] = row
    tests = []
    for metric in metrics:
        for a, b in pairs:
            ra, rb = by_label.get(a), by_label.get(b)
            if ra is None or rb is None or not (testable(ra, metric) and testable(rb, metric)):
                continue
            p = welch_p(
                ra[f"{metric}_mean"],
                ra[f"{metric}_std"],
                n_of(ra, metric),
                rb[f"{metric}_mean"],
                rb[f"{metric}_std"],
                n_of(rb, metric),
            )
            tests.append((a, b, metric, 100 * (ra[f"{metric}_mean"] - rb[f"{metric}_mean"]), p))
    adjusted = holm([t[4] for t in tests])
    return [
        Comparison(a, b, metric, diff, p, ph, "within noise" if ph >= LEVEL else ("above" if diff > 0 else "below"))
        for (a, b, metric, diff, p), ph in zip(tests, adjusted, strict=True)
    ]


def against_baseline(rows: Iterable[dict], baseline: str) -> list[tuple[str, str]]:
    """Every other row's label paired with ``baseline``'s."""
    return [(label_of(r), baseline) for r in rows if label_of(r) != baseline]


def family_pairs(rows: Iterable[dict], pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Those of ``pairs`` whose two rows are present."""
    present = {label_of(r) for r in rows}
    return [(a, b) for a, b in pairs if a in present and b in present]
