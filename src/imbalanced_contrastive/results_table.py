"""Results tables from run records: ours (mean +- std over seeds) beside the papers' reported
numbers where the book's appendix (``book/paper_specs.md``) has them, and "not reported" where it does not."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from imbalanced_contrastive.records import RECORD_FILE, CorruptRecordError, RunRecord
from imbalanced_contrastive.significance import LEVEL
from imbalanced_contrastive.training.config import NOT_SETTINGS

METRICS = ("accuracy", "balanced_accuracy", "many", "medium", "few")

HEADLINE = ("balanced_accuracy", "few", "many", "medium", "accuracy")
"""The metrics in the order a reader's table shows them: the headline first (balanced accuracy),
then the minority classes' recall (the point of the book), then the majority's."""

METRIC_LABELS = {
    "balanced_accuracy": "balanced acc. %",
    "few": "few %",
    "many": "many %",
    "medium": "medium %",
    "accuracy": "accuracy %",
}

FAMILIES = {
    "baseline": ("ce",),
    "loss re-weighting": ("focal",),
    "two-stage contrastive": ("supcon", "cl", "fcl", "acl", "afcl"),
    "one-stage prior-corrected": ("balanced_softmax", "bcl", "rcl", "rescom"),
}
"""The methods' families: what each changes to fight the imbalance. Re-weighting scales the loss of
hard examples (focal); two-stage contrastive methods learn a representation, then a plain
cross-entropy classifier; one-stage prior-corrected methods add the log class prior to the logits
(Balanced Softmax, and BCL, RCL and ResCom beside their contrastive branches)."""

FAMILY_COLORS = {
    "baseline": "#4d4d4d",
    "loss re-weighting": "#b8860b",
    "two-stage contrastive": "#1f78b4",
    "one-stage prior-corrected": "#d95f02",
}


def family_of(method: str) -> str:
    """The family of ``method`` (:data:`FAMILIES`)."""
    for family, methods in FAMILIES.items():
        if method in methods:
            return family
    raise ValueError(f"method {method!r} is in no family; families: {FAMILIES}")


def order_by_family(rows: Iterable[dict]) -> list[dict]:
    """Summary rows ordered by family (:data:`FAMILIES`' order), keeping their order within a family."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    rows = list(rows)
    return [r for _, _, r in sorted((rank[family_of(r["method"])], i, r) for i, r in enumerate(rows))]


class ReaderTable:
    """A table as a reader gets it: a DataFrame and the notes said once under it (columns left
    out, what the labels mean). Jupyter, Colab and the book show its HTML.

    Attributes:
        frame: the table (:class:`pandas.DataFrame`).
        notes: sentences shown under it.
    """

    def __init__(self, frame, notes: Iterable[str] = ()) -> None:
        self.frame, self.notes = frame, list(notes)

    def _repr_html_(self) -> str:
        import html

        table = self.frame.to_html(classes="reader-table", na_rep="–", border=0)
        if not self.notes:
            return table
        return table + '<p class="table-notes">' + " ".join(html.escape(n) for n in self.notes) + "</p>"

    def __repr__(self) -> str:
        return self.frame.to_string(na_rep="–") + ("\n" + "\n".join(self.notes) if self.notes else "")


def _blank(value) -> bool:
    return value is None or value == "–" or (isinstance(value, float) and math.isnan(value))


def tidy_columns(frame, columns: Iterable[str], why_equal: dict[str, str] | None = None):
    """Drop those of ``columns`` that are empty in every row or equal an earlier one in every row.

    Returns:
        ``(frame, notes)``: the frame without them, and one sentence per dropped column.
    """
    notes, kept = [], []
    for col in columns:
        if col not in frame.columns:
            continue
        values = list(frame[col])
        if all(_blank(v) for v in values):
            frame = frame.drop(columns=col)
            notes.append(f"{col} is left out: no class is in that group here.")
            continue
        twin = next((k for k in kept if list(frame[k]) == values), None)
        if twin is not None:
            frame = frame.drop(columns=col)
            reason = (why_equal or {}).get(col, "")
            notes.append(f"{col} is left out: it equals {twin} in every row{reason}.")
            continue
        kept.append(col)
    return frame, notes


EQUAL_BECAUSE = {METRIC_LABELS["accuracy"]: " (the test set is balanced)"}

PAPER_RESULTS = "paper_results.csv"
"""The papers' reported numbers, as data shipped with the package: one row per (dataset, imbalance,
ratio, method) with the number and its source (the book's appendix tags them), and rows with ``*``
that say why a dataset has no reported numbers."""


@functools.lru_cache(maxsize=1)
def paper_results() -> tuple[dict[tuple[str, str, float, str], tuple[str, str]], dict[str, str]]:
    """``({(dataset, imbalance, ratio, method): (reported top-1 %, source)}, {dataset: why none})``."""
    reported, none = {}, {}
    text = resources.files("imbalanced_contrastive").joinpath(PAPER_RESULTS).read_text()
    for row in csv.DictReader(io.StringIO(text)):
        if row["method"] == "*":
            none[row["dataset"]] = row["source"]
        else:
            reported[(row["dataset"], row["imbalance"], float(row["ratio"]), row["method"])] = (
                row["reported"],
                row["source"],
            )
    return reported, none


def find_records(*roots: str | Path) -> list[RunRecord]:
    """Every readable run record below ``roots`` (missing roots are skipped; an unreadable record
    is reported with its path in a warning and left out)."""
    found = []
    for root in roots:
        root = Path(root)
        if root.is_dir():
            for path in sorted(root.rglob(RECORD_FILE)):
                try:
                    found.append(RunRecord.load(path.parent))
                except CorruptRecordError as err:
                    warnings.warn(f"{err}; left out of the results table", RuntimeWarning, stacklevel=2)
    return found


def _setting(record: RunRecord) -> tuple:
    c = record.config
    return (c["dataset"], c["imbalance"], float(c["ratio"]), c["profile"])


NOT_AN_EXPERIMENT = NOT_SETTINGS + ("seed", "cache_key", "notes", "embed_points")
"""Record config keys that do not make an experiment different: where its data and hardware came
from (:data:`~imbalanced_contrastive.training.config.NOT_SETTINGS`), the seed that repeats it,
derived text, and the size of the stored embedding sample (it changes nothing the run trains)."""


def settings_key(config: dict) -> str:
    """A key of a run's settings by their *values*: nested dictionaries in sorted key order, so
    two runs whose settings were written in different orders are one experiment."""
    return json.dumps({k: v for k, v in config.items() if k not in NOT_AN_EXPERIMENT}, sort_keys=True, default=str)


def summarize(records: Iterable[RunRecord], methods_order: Iterable[str] | None = None) -> list[dict]:
    """One row per (setting, method) over seeds: means and sample standard deviations.

    Runs that differ in anything but the seed are kept apart by their config (without seed and
    cache key), so a row never mixes settings.
    """
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in records:
        groups[(_setting(r), r.config["method"], settings_key(r.config))].append(r)
    order = list(methods_order or [])
    rows = []
    for (setting, method, _), recs in groups.items():
        row: dict = {
            "dataset": setting[0],
            "imbalance": setting[1],
            "ratio": setting[2],
            "profile": setting[3],
            "method": method,
            "settings": describe_settings(recs[0].config),
            "label": run_label(recs[0].config),
            "seeds": sorted(int(r.config["seed"]) for r in recs),
            "devices": sorted({str(r.provenance.get("device", "unknown")) for r in recs}),
            "releases": sorted({str(r.provenance.get("package_version", "unknown")) for r in recs}),
        }
        for m in METRICS:
            vals = [r.metrics.get(m) for r in recs if r.metrics.get(m) is not None]
            row[f"{m}_mean"] = sum(vals) / len(vals) if vals else None
            row[f"{m}_n"] = len(vals)
            row[f"{m}_std"] = (
                math.sqrt(sum((v - row[f"{m}_mean"]) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
            )
        known, none = paper_results()
        reported = known.get((setting[0], setting[1], setting[2], method))
        row["paper_reported"] = reported[0] if reported else None
        row["paper_source"] = reported[1] if reported else none.get(setting[0], "not reported by the papers")
        rows.append(row)
    rank = {m: i for i, m in enumerate(order)}
    rows.sort(
        key=lambda r: (
            r["dataset"],
            r["imbalance"],
            r["ratio"],
            r["profile"],
            rank.get(r["method"], len(rank)),
            r["method"],
        )
    )
    return rows


SHORT = {
    "temperature": "τ",
    "gamma": "γ",
    "eta": "η",
    "balance_strength": "ρ",
    "feature_scale": "λ",
    "margin": "m",
    "beta": "β",
    "hard_positives": "Qp",
    "hard_negatives": "Qn",
    "normalization": "norm",
}


RCL_PARTS = (
    ("balance_strength", 0.0, "class balance"),
    ("feature_scale", 1.0, "feature scale"),
    ("margin", 0.0, "margin"),
)
"""RCL's three components: the parameter, its "off" value, and what it adds to BCL."""


def run_label(config: dict) -> str:
    """A short name of a run's method by what it adds: the method, and the loss parameters that
    differ from the method's defaults (``acl (η=10)``); an RCL ablation by its components
    (``BCL + feature scale + margin``)."""
    from imbalanced_contrastive.training.recipes import recipe_of

    method = config["method"]
    params = config.get("loss_params", {})
    defaults = recipe_of(method).methods[method]
    if method == "rcl":
        on = [name for key, off, name in RCL_PARTS if params.get(key, defaults.get(key)) != off]
        if len(on) < len(RCL_PARTS):
            averaging = "" if params.get("class_averaging", True) else " without class-averaging"
            return "BCL" + "".join(f" + {name}" for name in on) + averaging
    changed = {k: v for k, v in sorted(params.items()) if k in defaults and v != defaults[k]}
    parts = [
        f"{SHORT.get(k, k)}={v:.6g}" if isinstance(v, float) else f"{SHORT.get(k, k)}={v}" for k, v in changed.items()
    ]
    if config.get("recipe") == "two_stage" and config.get("stage2_loss", "ce") != "ce":
        parts.append(f"stage 2: {config['stage2_loss']}")
    return f"{method} ({', '.join(parts)})" if parts else method


def describe_settings(config: dict) -> str:
    """The loss parameters of a run in short form (``τ=0.07, γ=2, η=100``), plus a non-CE stage 2."""
    parts = []
    for k, v in sorted(config.get("loss_params", {}).items()):
        if isinstance(v, float):
            v = f"{v:.6g}"
        parts.append(f"{SHORT.get(k, k)}={v}")
    if config.get("recipe") == "two_stage" and config.get("stage2_loss") != "ce":
        parts.append(f"stage 2: {config.get('stage2_loss')}")
    return ", ".join(parts) or "–"


def format_mean_std(mean: float | None, std: float | None) -> str:
    """A mean and standard deviation (fractions) as a reader's cell in %: ``84.5 ± 0.4``, ``84.5``
    without a standard deviation (one seed), ``–`` without a value."""
    if mean is None:
        return "–"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std is not None else f"{100 * mean:.1f}"


DATASET_NAMES = {
    "fmnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "dermamnist": "DermaMNIST",
    "isic2018": "ISIC 2018",
}


def markdown_table(rows: list[dict]) -> str:
    """Markdown tables (percentages), one section per dataset and imbalance: profile, method, seeds,
    the headline metrics first (a column equal to another or empty in every row left out, and said
    so under the table), where and with which release the runs were made, and the papers'
    reported numbers in their own column, with the sources as numbered notes."""
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    sections = []
    for data in dict.fromkeys((r["dataset"], r["imbalance"], r["ratio"]) for r in rows):
        part = [r for r in rows if (r["dataset"], r["imbalance"], r["ratio"]) == data]
        metrics = [
            m
            for m in HEADLINE
            if any(r[f"{m}_mean"] is not None for r in part)
            and not (m == "accuracy" and all(r["accuracy_mean"] == r["balanced_accuracy_mean"] for r in part))
        ]
        left_out = [
            f"{METRIC_LABELS[m]} is left out: "
            + (
                "it equals balanced accuracy in every row (balanced test sets)."
                if m == "accuracy"
                else "no class is in that group."
            )
            for m in HEADLINE
            if m not in metrics
        ]
        head = ["profile", "method", "seeds", *[METRIC_LABELS[m] for m in metrics], "trained on", "paper reported"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in part:
            paper = (
                f"{r['paper_reported']} {note(r['paper_source'])}"
                if r["paper_reported"]
                else f"not reported {note(r['paper_source'])}"
            )
            where = ", ".join(d.split(":", 1)[0] for d in r.get("devices", [])) or "–"
            release = ", ".join(r.get("releases", []))
            cells = [r["profile"], r.get("label", r["method"]), str(len(r["seeds"]))]
            cells += [format_mean_std(r[f"{m}_mean"], r[f"{m}_std"]) for m in metrics]
            cells += [f"{where} ({release})" if release else where, paper]
            lines.append("| " + " | ".join(cells) + " |")
        title = f"## {DATASET_NAMES.get(data[0], data[0])}, {data[1].replace('_', '-')} imbalance, ratio {data[2]:g}"
        extra = (
            f"\n\n{', '.join(left_out)}: left out (equal to balanced accuracy or empty in every row)."
            if left_out
            else ""
        )
        sections.append(title + "\n\n" + "\n".join(lines) + extra)
    body = "\n\n".join(sections)
    return body + "\n\n" + "\n".join(f"{i + 1}. {text}" for i, text in enumerate(notes)) + "\n"


def write_tables(rows: list[dict], out_dir: str | Path, stem: str = "results") -> tuple[Path, Path]:
    """Write ``<stem>.md`` and ``<stem>.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{stem}.md"
    md.write_text(markdown_table(rows) if rows else "No run records were found.\n")
    path = out / f"{stem}.csv"
    fields = (
        ["dataset", "imbalance", "ratio", "profile", "method", "label", "settings", "seeds"]
        + [f"{m}_{s}" for m in METRICS for s in ("mean", "std", "n")]
        + ["devices", "releases", "paper_reported", "paper_source"]
    )
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    **r,
                    "seeds": " ".join(map(str, r["seeds"])),
                    "devices": "; ".join(r.get("devices", [])),
                    "releases": " ".join(r.get("releases", [])),
                }
            )
    return md, path


def compare_with(rows: list[dict], baseline: str, metric: str = "few", level: float = LEVEL) -> list[dict]:
    """How each method's ``metric`` differs from ``baseline``'s on the same data and profile, and
    whether the difference is larger than seed noise (the book's rule,
    :data:`~imbalanced_contrastive.significance.NOISE_RULE`).

    Welch's t-test on the two groups of seeds (from their means, standard deviations and counts;
    :func:`~imbalanced_contrastive.significance.welch_p`), Holm-corrected across the methods compared
    on the same data: a difference is ``"above"`` or ``"below"`` when its corrected p-value is below
    ``level``, else ``"within noise"``. With three seeds per method only differences of several
    standard deviations pass.

    Args:
        rows: summary rows (:func:`summarize`), each with at least two seeds.
        baseline: the method to compare with (e.g. ``"ce"``).
        metric: one of :data:`METRICS`.
        level: the significance level.

    Returns:
        One dict per other method: ``method``, ``settings``, ``label``, ``difference`` (in points of %),
        ``p_value`` (Welch), ``p_holm`` and ``verdict``; rows without the metric or with a single seed
        are left out.

    Raises:
        ValueError: ``metric`` is unknown, or no row of ``baseline`` has two or more seeds.
    """
    from imbalanced_contrastive.significance import compare, testable

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    bases = {_data_of(r): r for r in rows if r["method"] == baseline and testable(r, metric)}
    if not bases:
        raise ValueError(
            f"no summary row of baseline {baseline!r} has {metric!r} over two or more seeds; "
            f"methods present: {sorted({r['method'] for r in rows})}"
        )
    out = []
    for data, base in bases.items():  # one Holm family per dataset and profile
        same = {r.get("label") or r["method"]: r for r in rows if _data_of(r) == data}
        against = base.get("label") or base["method"]
        for c in compare(same.values(), [(label, against) for label in same if label != against], [metric]):
            row = same[c.label]
            verdict = "within noise" if c.p_holm >= level else ("above" if c.difference > 0 else "below")
            out.append(
                {
                    "method": row["method"],
                    "settings": row["settings"],
                    "label": c.label,
                    "difference": round(c.difference, 1),
                    "p_value": c.p,
                    "p_holm": c.p_holm,
                    "verdict": verdict,
                }
            )
    return out


def _data_of(row: dict) -> tuple:
    return row["dataset"], row["imbalance"], row["ratio"], row["profile"]


def records_frame(records: dict) -> ReaderTable:
    """A reader's table of named runs: balanced accuracy, few, many, (medium, accuracy) in %, and
    training time; a column equal to another or empty in every row is left out and said so."""
    import pandas as pd

    rows = []
    for name, r in records.items():
        m = r.metrics
        rows.append(
            {
                "run": name,
                **{METRIC_LABELS[k]: (round(100 * m[k], 1) if m.get(k) is not None else None) for k in HEADLINE},
                "time (s)": round(r.wall_time_s),
            }
        )
    frame = pd.DataFrame(rows).set_index("run")
    frame, notes = tidy_columns(frame, [METRIC_LABELS[k] for k in HEADLINE], EQUAL_BECAUSE)
    return ReaderTable(frame, notes)
