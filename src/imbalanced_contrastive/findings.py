"""What a chapter's own runs show, computed from their records when the notebook runs.

A chapter's typed prose explains; every statement about its runs (which run is best, by how much,
whether beyond the seed noise, how long they trained) comes from :func:`findings`, shown as
generated Markdown (it renders in Jupyter, Colab and the book), so it is true in every profile.
Differences are judged by the book's one rule (:data:`~imbalanced_contrastive.significance.NOISE_RULE`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.results_table import METRIC_LABELS, run_label, summarize
from imbalanced_contrastive.significance import (
    FAMILY_CONTRASTS,
    against_baseline,
    compare,
    family_pairs,
    format_p,
    label_of,
)


@dataclass
class Findings:
    """Computed statements about a set of runs.

    Attributes:
        markdown: the statements as a Markdown list (what the notebook shows).
        facts: the numbers behind them (``best``, ``best_balanced_accuracy``, ``seeds``,
            ``training_time_s``, ``beyond_noise``, ...), for tests and tools.
        cache_keys: the records' cache keys (which records the statements are about).
    """

    markdown: str
    facts: dict = field(default_factory=dict)
    cache_keys: list[str] = field(default_factory=list)

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown

    def save(self, path: str | Path) -> Path:
        """Write the findings (markdown, facts, cache keys) as JSON to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"markdown": self.markdown, "facts": self.facts, "cache_keys": self.cache_keys}, indent=1)
        )
        return path


def _pct(row: dict, metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    return f"{100 * mean:.1f} ± {100 * std:.1f} %" if std is not None else f"{100 * mean:.1f} %"


def name_stem(name: str) -> str:
    """A run's name without its seed (``"ACL η=100 seed 2"`` -> ``"ACL η=100"``)."""
    return re.sub(r" seed \d+$", "", name)


def named_rows(
    records: dict[str, RunRecord], methods_order: list[str] | None = None, by_name: bool = False
) -> list[dict]:
    """Summary rows; a row is labelled with the chapter's name for it when it holds a single run,
    or (``by_name``) when all its runs share one name but for the seed."""
    rows = summarize(records.values(), methods_order=methods_order)
    for row in rows:
        names = [n for n, r in records.items() if run_label(r.config) == label_of(row) and _data(r) == _row_data(row)]
        names = [n for n in names if int(records[n].config["seed"]) in row["seeds"]]
        stems = {name_stem(n) for n in names}
        if len(row["seeds"]) == 1 and len(names) == 1:
            row["label"] = names[0] if not by_name else name_stem(names[0])
        elif by_name and len(stems) == 1:
            row["label"] = stems.pop()
    return rows


def _data(record: RunRecord) -> tuple:
    c = record.config
    return c["dataset"], c["imbalance"], float(c["ratio"]), c["profile"]


def _row_data(row: dict) -> tuple:
    return row["dataset"], row["imbalance"], float(row["ratio"]), row["profile"]


def _listing(tests) -> str:
    return ", ".join(f"{c.label} ({c.difference:+.1f} points, Holm {format_p(c.p_holm)})" for c in tests)


def findings(
    records: dict[str, RunRecord],
    baseline: str | None = None,
    contrasts: dict[str, tuple[tuple[str, str], ...]] | None = None,
    methods_order: list[str] | None = None,
    by_name: bool = False,
) -> Findings:
    """Statements about ``records`` (one dataset and profile), computed from them.

    Args:
        records: ``{name: record}`` as a chapter ran or loaded them.
        baseline: the label every other run is tested against (over two or more seeds), if any.
        contrasts: family comparisons to test (default :data:`~imbalanced_contrastive.significance.FAMILY_CONTRASTS`;
            those whose runs are absent are skipped).
        methods_order: the order of methods in the summary.
        by_name: label each row with its runs' name without the seed (a chapter's names for its
            runs, ``"ACL η=100 seed 0"`` -> ``"ACL η=100"``) rather than the run label.

    Returns:
        :class:`Findings`: the ranking on balanced accuracy and minority (few) recall, the tests
        against the baseline and the family comparisons (Welch over the seeds, Holm-corrected as
        in :func:`~imbalanced_contrastive.chapter.comparison_frame` and
        :func:`~imbalanced_contrastive.chapter.family_frame`, so the numbers agree with those tables),
        and the training time the records hold.

    Raises:
        ValueError: no records, or records of several datasets or profiles.
    """
    if not records:
        raise ValueError("findings need at least one record")
    data = {_data(r) for r in records.values()}
    if len(data) > 1:
        raise ValueError(f"findings are about one dataset and profile at a time; got {sorted(data)}")
    rows = named_rows(records, methods_order, by_name)
    seeds = max(len(r["seeds"]) for r in rows)
    single = [label_of(r) for r in rows if len(r["seeds"]) < 2]
    facts: dict = {"runs": len(records), "seeds": seeds, "single_seed": single}
    lines = []

    ranked = [r for r in rows if r["balanced_accuracy_mean"] is not None]
    ranked.sort(key=lambda r: -r["balanced_accuracy_mean"])
    best, worst = ranked[0], ranked[-1]
    facts.update(best=label_of(best), best_balanced_accuracy=best["balanced_accuracy_mean"], worst=label_of(worst))
    spread = "mean ± standard deviation over the seeds" if seeds > 1 else "one seed"
    if len(ranked) > 1:
        lines.append(
            f"Highest balanced accuracy: **{label_of(best)}**, {_pct(best, 'balanced_accuracy')}; lowest: "
            f"{label_of(worst)}, {_pct(worst, 'balanced_accuracy')} ({spread})."
        )
    else:
        lines.append(f"Balanced accuracy of **{label_of(best)}**: {_pct(best, 'balanced_accuracy')} ({spread}).")
    few = [r for r in rows if r["few_mean"] is not None]
    if few:
        top = max(few, key=lambda r: r["few_mean"])
        facts.update(best_few=label_of(top), best_few_recall=top["few_mean"])
        many = [r for r in rows if r["many_mean"] is not None]
        top_many = max(many, key=lambda r: r["many_mean"]) if many else None
        lines.append(
            f"Highest minority (*few*) recall: **{label_of(top)}**, {_pct(top, 'few')}"
            + (
                f"; highest majority (*many*) recall: {label_of(top_many)}, {_pct(top_many, 'many')}."
                if top_many
                else "."
            )
        )

    if single and seeds > 1:
        lines.append(
            f"One seed only, so left out of the tests below: {', '.join(single)}; every other row is tested over its "
            "own seeds."
        )
    if seeds < 2:
        lines.append(
            "One seed per run: no difference between these runs can be told from seed noise here (the benchmark "
            "chapter repeats every method over three seeds and tests the differences)."
        )
    else:
        metrics = ["balanced_accuracy", "few"]
        if baseline is not None and any(label_of(r) == baseline for r in rows):
            tests = compare(rows, against_baseline(rows, baseline), metrics)
            for metric in metrics:
                name = METRIC_LABELS[metric].removesuffix(" %")
                mine = [c for c in tests if c.metric == metric]
                above = [c for c in mine if c.verdict == "above"]
                below = [c for c in mine if c.verdict == "below"]
                within = [c for c in mine if not c.beyond_noise]
                facts[f"above_{baseline}_{metric}"] = [c.label for c in above]
                facts[f"below_{baseline}_{metric}"] = [c.label for c in below]
                parts = []
                if above:
                    parts.append(f"above it: {_listing(above)}")
                if below:
                    parts.append(f"below it: {_listing(below)}")
                parts.append(
                    f"within noise: {', '.join(f'*{c.label}*' for c in within)}" if within else "none within noise"
                )
                lines.append(f"Against **{baseline}** on {name} ({len(mine)} tests): " + "; ".join(parts) + ".")
        named = [
            (family, pair)
            for family, pairs in (FAMILY_CONTRASTS if contrasts is None else contrasts).items()
            for pair in family_pairs(rows, pairs)
        ]
        family_tests = compare(rows, [pair for _, pair in named], metrics)
        of = {pair: family for family, pair in named}
        for family in dict.fromkeys(of.values()):
            mine = [c for c in family_tests if of[(c.label, c.against)] == family]
            beyond = [c for c in mine if c.beyond_noise]
            facts[f"family: {family}"] = [
                (c.label, c.against, c.metric, round(c.difference, 1), c.verdict) for c in mine
            ]
            ranges = []
            for metric in metrics:
                diffs = [c.difference for c in mine if c.metric == metric]
                if diffs:
                    name = METRIC_LABELS[metric].removesuffix(" %")
                    lo, hi = min(diffs), max(diffs)
                    ranges.append(f"{name} {lo:+.1f}" + (f" to {hi:+.1f}" if hi != lo else "") + " points")
            detail = f"; beyond noise: {_listing(beyond)}" if beyond else ""
            lines.append(
                f"{family[0].upper()}{family[1:]}: {len(beyond)} of {len(mine)} tests beyond noise "
                f"(differences {', '.join(ranges)}{detail})."
            )

    times = [float(r.wall_time_s) for r in records.values()]
    devices = sorted({str(r.provenance.get("device", "unknown")) for r in records.values()})
    facts["training_time_s"] = sum(times)
    lines.append(
        f"Training time held in the records: {sum(times):,.0f} s for {len(times)} runs ({min(times):,.0f} to "
        f"{max(times):,.0f} s each) on {', '.join(devices)}; a run loaded from a cache or from the committed "
        "records was trained earlier (this notebook's own time in this build: Execution statistics)."
    )
    return Findings(
        "\n".join(f"* {line}" for line in lines),
        facts,
        [str(r.config.get("cache_key")) for r in records.values()],
    )
