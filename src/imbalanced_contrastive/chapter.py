"""What a chapter of the book needs from the library, so that notebooks hold narrative,
parameters, calls and figures only.

A :class:`Chapter` is made once, right after a notebook's parameters: it checks the profile, keeps
the settings every run of the chapter shares, builds configs (:meth:`Chapter.config`), runs them
through the shared runs folder (:meth:`Chapter.run`; cached, so re-running a notebook loads its
runs), shows results (:meth:`Chapter.table`, :func:`summary_frame`, :func:`comparison_frame`) and saves and shows
figures
with a caption and alt text (:meth:`Chapter.figure`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from imbalanced_contrastive.committed import MissingRecordsError, load_records
from imbalanced_contrastive.findings import Findings, findings, name_stem, named_rows
from imbalanced_contrastive.grid import GRID_SEEDS, ChapterRuns, chapter_configs, grid_configs
from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.results_table import (
    EQUAL_BECAUSE,
    HEADLINE,
    METRIC_LABELS,
    ReaderTable,
    format_mean_std,
    records_frame,
    tidy_columns,
)
from imbalanced_contrastive.significance import (
    FAMILY_CONTRASTS,
    NOISE_RULE,
    WELCH,
    against_baseline,
    compare,
    family_pairs,
    format_p,
    label_of,
)
from imbalanced_contrastive.training.config import ExperimentConfig, make_config, overrides_from
from imbalanced_contrastive.training.profiles import COMMITTED_PROFILES, check_profile
from imbalanced_contrastive.training.runner import run_all
from imbalanced_contrastive.viz import show_figure

TRAIN_CHOICES = ("auto", True, False)
"""A chapter's ``train`` parameter: ``"auto"`` (train on a CUDA device, load the committed records
on a CPU), ``True`` (train here) or ``False`` (load)."""


def decide_training(train: bool | str, profile: str, device: str | None = "auto") -> tuple[bool, str]:
    """Whether a chapter trains its runs, and why, in one sentence for the reader.

    In the ``smoke`` and ``quick`` profiles a chapter always trains (its runs are small and cached);
    in a committed profile (``full``, ``paper``) ``train="auto"`` trains where the device is CUDA
    (``device="auto"`` with a GPU, or ``"cuda"``) and loads the committed records elsewhere.

    Raises:
        ValueError: ``train`` is not one of :data:`TRAIN_CHOICES` (named, with the allowed values).
    """
    if not (train == "auto" or train is True or train is False):
        raise ValueError(f"train must be one of 'auto', True or False; got {train!r}")
    if check_profile(profile) not in COMMITTED_PROFILES:
        return True, f"The {profile} profile trains its runs here (cached in the runs folder: a re-run loads them)."
    if train is True:
        return True, (
            f"train=True: this chapter trains its {profile}-profile runs here, into the runs folder (never into "
            "results/), and then compares them with the committed records of the same configs."
        )
    if train is False:
        return False, f"train=False: this chapter loads the committed records of the {profile} profile."
    import torch

    base = (device or "auto").split(":")[0]
    on_gpu = base == "cuda" or (base == "auto" and torch.cuda.is_available())
    if on_gpu:
        return True, (
            f"train='auto' on a CUDA device: this chapter trains its {profile}-profile runs on the GPU, into the runs "
            "folder, and then compares them with the committed records of the same configs (set train=False to "
            "load the committed records instead)."
        )
    return False, (
        f"train='auto' without a CUDA device: this chapter loads the committed records of the {profile} profile "
        "(trained once by make grid); set train=True to train them here instead (the time the records took is "
        "printed below)."
    )


class Chapter:
    """One chapter's runs and figures.

    Args:
        name: the chapter's short name (its figures go to ``<output_dir>/figures/<name>``).
        profile: ``smoke``, ``quick``, ``full`` or ``paper``.
        dataset: the dataset every run of the chapter uses.
        output_dir: where figures (and tables) go.
        datasets: the datasets the chapter is written for (``None``: any).
        train: ``"auto"``, ``True`` or ``False`` (:func:`decide_training`): in the committed
            profiles (``full``, ``paper``), whether to train the configs (into the runs folder) or
            load their committed records; ``"auto"`` trains on a CUDA device only.
        **settings: settings every run shares (config fields or loss parameters); ``None`` values
            keep the profile's value, so notebook parameters left at ``None`` can be passed as they are.

    Raises:
        ValueError: an unknown profile or ``train`` value, or a dataset the chapter is not written
            for (before anything runs).
    """

    def __init__(
        self,
        name: str,
        profile: str,
        dataset: str = "fmnist",
        output_dir: str | Path = ".",
        datasets: tuple[str, ...] | None = None,
        train: bool | str = "auto",
        **settings: Any,
    ) -> None:
        if datasets is not None and dataset not in datasets:
            raise ValueError(f"dataset must be one of {datasets} in this chapter; got {dataset!r}")
        self.settings = overrides_from(**settings)
        self.train, self.why = decide_training(train, profile, self.settings.get("device", "auto"))
        self.name, self.profile, self.dataset = name, check_profile(profile), dataset
        self.output_dir = Path(output_dir)
        self.figures = self.output_dir / "figures" / name
        self.figures.mkdir(parents=True, exist_ok=True)
        self.committed_records: dict[str, RunRecord] | None = None
        if self.profile in COMMITTED_PROFILES:
            print(self.why)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of the chapter's runs: :data:`~imbalanced_contrastive.grid.GRID_SEEDS` in a
        committed profile, else the one ``seed`` setting (default 0)."""
        if self.profile in COMMITTED_PROFILES:
            return GRID_SEEDS
        return (int(self.settings.get("seed", 0)),)

    def config(self, method: str, **settings: Any) -> ExperimentConfig:
        """The config of ``method`` with the chapter's settings and ``settings`` (``None`` values
        skipped); validated, so a wrong value fails here, before anything trains."""
        return make_config(method, self.profile, self.dataset, **{**self.settings, **overrides_from(**settings)})

    def configs(self, runs: ChapterRuns) -> dict[str, ExperimentConfig]:
        """The configs of the chapter's runs (:mod:`imbalanced_contrastive.grid`: the one definition
        the grid and the tests use), ``{"<label> seed <k>": config}`` over :attr:`seeds`."""
        own = {k: v for k, v in self.settings.items() if k != "seed"}
        return chapter_configs(runs, self.profile, self.dataset, self.seeds, **own)

    @property
    def loads_committed(self) -> bool:
        """Whether :meth:`run` loads committed records (a committed profile, not training)."""
        return self.profile in COMMITTED_PROFILES and not self.train

    def run(self, configs: dict[str, ExperimentConfig]) -> dict[str, RunRecord]:
        """Every config's record, ``{name: record}`` in order: trained (or loaded from the shared
        runs folder) in the ``smoke`` and ``quick`` profiles or when training; the committed
        records otherwise. Training in a committed profile also loads the committed records of the
        same configs where they exist (:meth:`reproduction` compares them).

        Raises:
            MissingRecordsError: (committed profiles, not training) configs without a committed
                record, listed with the command that makes them; nothing is trained.
        """
        if self.loads_committed:
            records = load_records(configs)
            took = sum(float(r.wall_time_s) for r in records.values())
            print(
                f"{_count(len(records), 'committed record')} loaded ({describe_records(records)}); "
                "nothing was trained. "
                f"Training them took {took / 60:.0f} min on {_devices(records)} (train=True trains them here)."
            )
            return records
        records = run_all(configs)
        where = describe_records(records)
        print(f"{_count(len(records), 'run')} trained here or loaded from the runs folder ({where}).")
        if self.profile in COMMITTED_PROFILES:
            try:
                self.committed_records = load_records(configs)
            except MissingRecordsError as err:
                print(f"no committed records to compare with: {str(err).splitlines()[0]}")
        return records

    def reproduction(self, records: dict[str, RunRecord]) -> ReaderTable | None:
        """When this chapter trained in a committed profile: its runs beside the committed records
        of the same configs, and whether each differs beyond the seed noise
        (:func:`reproduction_frame`); ``None`` (nothing shown) when it loaded them or trained in
        another profile."""
        if not self.train or self.committed_records is None:
            return None
        return reproduction_frame(records, self.committed_records)

    def committed(
        self,
        methods: Iterable[str],
        seeds: Iterable[int] = GRID_SEEDS,
        profile: str = "full",
        label: str = "",
        **settings: Any,
    ) -> dict[str, RunRecord]:
        """The committed records of ``methods`` x ``seeds`` in ``profile`` on this chapter's dataset
        (the benchmark grid's settings, and ``settings``; named ``<method><label> seed <k>``),
        loaded whatever this chapter's profile; never trained.

        Raises:
            MissingRecordsError: runs without a committed record (listed, with the command).
        """
        return load_records(grid_configs(profile, self.dataset, list(methods), list(seeds), label, **settings))

    @staticmethod
    def table(records: dict[str, RunRecord]) -> ReaderTable:
        """A reader's table of named runs: balanced accuracy, few, many (in %), time
        (:func:`~imbalanced_contrastive.results_table.records_frame`); runs repeated over seeds
        (``"<label> seed <k>"``) as one row per label, mean ± std over the seeds (:func:`summary_frame`)."""
        if len({name_stem(n) for n in records}) == len(records):
            return records_frame(records)
        return summary_frame(named_rows(records, by_name=True))

    def findings(
        self,
        records: dict[str, RunRecord],
        baseline: str | None = None,
        key: str | None = None,
        methods_order: list[str] | None = None,
        by_name: bool = False,
    ) -> Findings:
        """What ``records`` show, computed from them (:func:`~imbalanced_contrastive.findings.findings`),
        for the notebook to display as Markdown; also saved as ``<output_dir>/findings/<name>[-<key>].json``
        (the statements, their numbers and the records' cache keys). ``by_name``: rows named by the
        chapter's labels (its names without the seed)."""
        found = findings(records, baseline=baseline, methods_order=methods_order, by_name=by_name)
        found.save(self.output_dir / "findings" / f"{self.name}{'-' + key if key else ''}.json")
        return found

    @staticmethod
    def first_seed(records: dict[str, RunRecord], labels: Iterable[str] | None = None) -> dict[str, RunRecord]:
        """Each label's record of its first seed, ``{label: record}`` (``labels``: those, in that
        order; default every label of ``records``), for figures that draw one run per label."""
        firsts: dict[str, str] = {}
        for name in records:
            firsts.setdefault(name_stem(name), name)
        wanted = list(firsts) if labels is None else list(labels)
        missing = [label for label in wanted if label not in firsts]
        if missing:
            raise KeyError(f"no record of {missing} among {list(records)}")
        return {label: records[firsts[label]] for label in wanted}

    @classmethod
    def drawn(cls, records: dict[str, RunRecord], runs: ChapterRuns) -> dict[str, RunRecord]:
        """The records the page draws (``runs.drawn``: UMAP, explorer), each label's first seed."""
        return cls.first_seed(records, runs.drawn)

    def figure(self, fig: plt.Figure, file: str, caption: str, alt: str | None = None) -> None:
        """Save ``fig`` as ``<figures>/<file>`` and show it with ``caption`` (and ``alt`` text);
        returns nothing (a cell ending with it prints no path)."""
        show_figure(fig, self.figures / file, caption, alt)


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1 (``1 run``, ``30 runs``)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _devices(records: dict[str, RunRecord]) -> str:
    return ", ".join(sorted({str(r.provenance.get("device", "unknown")) for r in records.values()}))


def reproduction_frame(
    mine: dict[str, RunRecord], committed: dict[str, RunRecord], metrics: Iterable[str] = ("balanced_accuracy", "few")
) -> ReaderTable:
    """A reader's runs against the committed records of the same configs: per label (the names
    without the seed), both means ± std in %, the difference and whether it is beyond the seed noise
    (Welch over the seeds, Holm across every test of the table: the book's one rule)."""
    import pandas as pd

    rows = named_rows(mine, by_name=True)
    theirs = named_rows(committed, by_name=True)
    for row in theirs:
        row["label"] = f"{label_of(row)} (committed)"
    pairs = [(label_of(r), f"{label_of(r)} (committed)") for r in rows]
    tests = compare([*rows, *theirs], pairs, metrics)
    by_label = {label_of(r): r for r in [*rows, *theirs]}
    entries: dict[str, dict] = {}
    for label, other in pairs:
        if other not in by_label:
            continue
        entry = entries.setdefault(label, {"seeds (yours / committed)": None})
        entry["seeds (yours / committed)"] = f"{len(by_label[label]['seeds'])} / {len(by_label[other]['seeds'])}"
        for metric in metrics:
            name = METRIC_LABELS[metric].removesuffix(" %")
            entry[f"{name}: yours"] = _cell(by_label[label], metric)
            entry[f"{name}: committed"] = _cell(by_label[other], metric)
            found = [c for c in tests if c.label == label and c.metric == metric]
            entry[f"{name}: difference"] = _verdict(found[0]) if found else "–"
    frame = pd.DataFrame.from_dict(entries, orient="index")
    frame.index.name = "run"
    return ReaderTable(
        frame,
        [
            f"Yours: trained in this session on {_devices(mine)}; committed: {describe_records(committed)}. "
            f"Mean ± standard deviation over the seeds in %; each difference is yours minus the committed, "
            f"with the verdict and the corrected p-value ({len(tests)} tests, corrected together). " + NOISE_RULE,
            "Across devices, precisions or library builds the runs are not bit-for-bit the same: agreement within "
            "noise is what a reproduction can expect, not equal numbers.",
        ],
    )


def _cell(row: dict, metric: str) -> str:
    """A summary row's ``metric`` as ``mean ± std`` in % (:func:`~.results_table.format_mean_std`)."""
    return format_mean_std(row[f"{metric}_mean"], row[f"{metric}_std"])


def describe_records(records: dict[str, RunRecord] | Iterable[RunRecord]) -> str:
    """Where records come from, in one line: profile, runs, seeds, device, release, commit and date
    (``full profile · 30 runs · seeds 0, 1, 2 · cpu:x86_64 · release 0.4.0 · commit 1a2b3c4 · 2026-12-01``)."""
    recs = list(records.values()) if isinstance(records, dict) else list(records)
    if not recs:
        return "no runs"

    def values(get) -> str:
        found = sorted({str(v) for v in map(get, recs) if v is not None})
        return ", ".join(found) if found else "unknown"

    seeds = sorted({int(r.config["seed"]) for r in recs})
    return " · ".join(
        [
            f"{values(lambda r: r.config.get('profile'))} profile",
            _count(len(recs), "run"),
            "seeds " + ", ".join(map(str, seeds)),
            values(lambda r: r.provenance.get("device")),
            "release " + values(lambda r: r.provenance.get("package_version")),
            "commit " + values(lambda r: (r.provenance.get("git_commit") or "")[:7] or None),
            values(lambda r: (r.provenance.get("date") or "")[:10] or None),
        ]
    )


def class_counts_frame(splits) -> ReaderTable:
    """A reader's table of a training set: each class's number of training images and its group
    (many / medium / few), largest first, and the groups' sizes under it."""
    import pandas as pd

    counts = [int(n) for n in splits.class_counts]
    frame = pd.DataFrame(
        {
            "class": splits.classes,
            "training images": counts,
            "group": list(splits.groups.group_of_class),
        }
    ).sort_values("training images", ascending=False, kind="stable")
    sizes = {g: len(m) for g, m in splits.groups.as_dict().items()}
    g = splits.groups
    return ReaderTable(
        frame.set_index("class"),
        [
            f"{sizes['many']} many, {sizes['medium']} medium and {sizes['few']} few classes (many: more than "
            f"{g.many_threshold} training images; few: fewer than {g.few_threshold}); imbalance ratio "
            f"{max(counts) / max(min(counts), 1):g}."
        ],
    )


def summary_frame(rows: Iterable[dict], metrics: Iterable[str] = HEADLINE) -> ReaderTable:
    """A reader's table of summary rows (:func:`~imbalanced_contrastive.results_table.summarize`):
    one row per run label, each metric as ``mean ± std`` in % over the seeds, headline first; a
    column equal to another or empty in every row is left out and said so under the table."""
    import pandas as pd

    metrics = list(metrics)
    frame = pd.DataFrame(
        [
            {"run": label_of(r), "seeds": len(r["seeds"]), **{METRIC_LABELS[m]: _cell(r, m) for m in metrics}}
            for r in rows
        ]
    ).set_index("run")
    frame, notes = tidy_columns(frame, [METRIC_LABELS[m] for m in metrics], EQUAL_BECAUSE)
    return ReaderTable(frame, ["Mean ± standard deviation over the seeds.", *notes])


def embedding_frame(records: dict[str, RunRecord], k: int = 10) -> ReaderTable:
    """What each run's embedding sample shows, in numbers: leave-one-out k-NN recall of the frozen
    encoder (all classes, few, many; in %) and how far the class means are from a regular simplex
    (the mean off-diagonal cosine of the class means, against ``-1/(C-1)``)."""
    import pandas as pd
    import torch

    from imbalanced_contrastive.evaluation import class_mean_cosines, knn_by_group

    rows, simplex = [], None
    for name, rec in records.items():
        knn = knn_by_group(rec, k)
        n_classes = len(rec.provenance["classes"])
        cos = class_mean_cosines(
            torch.as_tensor(rec.embeddings, dtype=torch.float32), torch.as_tensor(rec.embedding_labels), n_classes
        )
        off = cos[~torch.eye(n_classes, dtype=torch.bool)]
        simplex = -1 / (n_classes - 1)
        rows.append(
            {
                "run": name,
                f"{k}-NN all %": round(100 * knn["all"], 1),
                f"{k}-NN few %": None if knn["few"] is None else round(100 * knn["few"], 1),
                f"{k}-NN many %": None if knn["many"] is None else round(100 * knn["many"], 1),
                "class-mean cosine": round(float(off[off.isfinite()].mean()), 3),
            }
        )
    frame = pd.DataFrame(rows).set_index("run")
    frame, notes = tidy_columns(frame, list(frame.columns))
    return ReaderTable(
        frame,
        [
            f"k-NN: each test point of the embedding sample classified by its {k} nearest neighbours (cosine) among "
            "the others, recall averaged over the classes; no classifier is involved, so it measures the encoder "
            "alone. Class-mean cosine: the mean cosine between two classes' centred mean embeddings; a regular "
            f"simplex (BCL's ideal) has {simplex:.3f}, higher means classes crowd together.",
            *notes,
        ],
    )


def _verdict(c) -> str:
    """A test in one cell: the difference in points, the verdict and the corrected p-value."""
    return f"{c.difference:+.1f} ({c.verdict}, Holm {format_p(c.p_holm)})"


def comparison_frame(
    rows: Iterable[dict], baseline: str, metrics: Iterable[str] = ("balanced_accuracy", "few")
) -> ReaderTable:
    """A reader's table: each run's difference from ``baseline`` in points of % per metric, and
    whether it exceeds seed noise: Welch's test over the seeds, Holm-corrected across every test
    of the table (:func:`~imbalanced_contrastive.significance.compare`)."""
    import pandas as pd

    rows, metrics = list(rows), list(metrics)
    tests = compare(rows, against_baseline(rows, baseline), metrics)
    columns: dict[str, dict] = {}
    for c in tests:
        label = METRIC_LABELS[c.metric].removesuffix(" %")
        columns.setdefault(c.label, {})[f"{label} vs {baseline}"] = _verdict(c)
    frame = pd.DataFrame.from_dict(columns, orient="index")
    frame.index.name = "run"
    return ReaderTable(
        frame,
        [
            f"Each cell: the difference from {baseline} in points of % (mean over the seeds), the verdict and "
            f"the corrected p-value; {len(tests)} tests, corrected together. " + NOISE_RULE,
            WELCH,
        ],
    )


def family_frame(
    rows: Iterable[dict],
    contrasts: dict[str, tuple[tuple[str, str], ...]] = FAMILY_CONTRASTS,
    metrics: Iterable[str] = ("balanced_accuracy", "few"),
) -> ReaderTable:
    """A reader's table of the family comparisons (:data:`~imbalanced_contrastive.significance.FAMILY_CONTRASTS`):
    each pair of a family member and a member of the family it is compared with, its difference in
    points of % per metric and the verdict, Holm-corrected across every test of the table. Pairs
    whose runs are absent are left out."""
    import pandas as pd

    rows, metrics = list(rows), list(metrics)
    named = [(name, pair) for name, pairs in contrasts.items() for pair in family_pairs(rows, pairs)]
    tests = compare(rows, [pair for _, pair in named], metrics)
    family = {pair: name for name, pair in named}
    entries: dict[tuple[str, str, str], dict] = {}
    for c in tests:
        label = METRIC_LABELS[c.metric].removesuffix(" %")
        entries.setdefault((family[(c.label, c.against)], c.label, c.against), {})[label] = _verdict(c)
    frame = pd.DataFrame([{"comparison": f, "run": a, "against": b, **e} for (f, a, b), e in entries.items()])
    if not frame.empty:
        frame = frame.set_index(["comparison", "run", "against"])
    return ReaderTable(
        frame,
        [
            "Each cell: the run minus the one it is compared with, in points of % (mean over the seeds), the "
            f"verdict and the corrected p-value; {len(tests)} tests, corrected together. " + NOISE_RULE
        ],
    )
