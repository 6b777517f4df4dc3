"""Which configs a committed profile holds, and training them: the benchmark and every chapter.

One definition of the runs each page shows, used by the chapters (:meth:`Chapter.configs
<imbalanced_contrastive.chapter.Chapter.configs>`), by ``make grid`` (:func:`committed_grid`,
:func:`train_grid`) and by the tests:

* the benchmark: :data:`GRID_METHODS` and the Balanced Softmax stage-2 runs of
  :data:`PRIOR_STAGE2_METHODS` (:func:`benchmark_configs`);
* each training chapter: a :class:`ChapterRuns` (its data, its labelled runs and the runs its page
  draws), made from the chapter's parameters by the functions of :data:`CHAPTER_RUNS`.

A chapter's config equal to a benchmark config is the same run (the same folder under
``results/``: :func:`~imbalanced_contrastive.committed.run_folder`), trained once. In a committed
profile a run that no page draws keeps a small embedding sample (:data:`SMALL_SAMPLE`), which keeps
``results/`` small; the sample's size changes nothing the run trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from imbalanced_contrastive.committed import overrides_of, results_root, run_folder
from imbalanced_contrastive.records import RECORD_FILE, CorruptRecordError, RunRecord
from imbalanced_contrastive.results_table import RCL_PARTS
from imbalanced_contrastive.training.config import ExperimentConfig, make_config, overrides_from
from imbalanced_contrastive.training.profiles import COMMITTED_PROFILES

GRID_METHODS = ("ce", "focal", "balanced_softmax", "cl", "fcl", "acl", "afcl", "bcl", "rcl", "rescom")
"""The benchmark's methods (the benchmark chapter's ``methods``)."""

GRID_SEEDS = (0, 1, 2)
"""The seeds of every committed config (the benchmark's and the chapters')."""

SMALL_SAMPLE = 100
"""The embedding sample of a committed run that no page draws (the profile's is 1000 test images)."""

PRIOR_STAGE2_METHODS = ("cl", "acl")
"""The two-stage methods the benchmark also trains with a Balanced Softmax stage 2 (the
benchmark chapter's ``prior_stage2``): the experiment that separates representation from classifier."""

PRIOR_STAGE2 = {"stage2_loss": "balanced_softmax", "embed_points": SMALL_SAMPLE}
"""What those runs change: the stage-2 loss, and a smaller embedding sample (their encoder is the
plain run's, whose record holds the full sample). Neither touches stage 1, which they share with
the plain run (:data:`~imbalanced_contrastive.training.recipes.STAGE2_FIELDS`)."""

PRIOR_STAGE2_LABEL = " + Balanced Softmax stage 2"
"""How their names read (``cl + Balanced Softmax stage 2 seed 0``)."""


SCHEDULE_CHECK = {"imbalance": "none", "ratio": 1.0, "minority_classes": []}
"""The check of a committed profile's schedule: cross-entropy on the *balanced* training set, seed 0
(the ``full`` schedule was chosen so that it reaches 89 %: ``benchmarks/README.md``). No page draws
it; its committed record predates the small-sample rule and keeps the profile's sample (450 KB)."""


def grid_configs(
    profile: str, dataset: str, methods: Iterable[str], seeds: Iterable[int], label: str = "", **settings: Any
) -> dict[str, ExperimentConfig]:
    """The configs of a grid, ``{"<method><label> seed <k>": config}``, seeds outer (an interrupted grid
    has every method of its first seeds)."""
    methods, seeds = list(methods), list(seeds)
    return {
        f"{m}{label} seed {s}": make_config(m, profile, dataset, seed=s, **settings) for s in seeds for m in methods
    }


def benchmark_configs(profile: str, dataset: str, seeds: Iterable[int] = GRID_SEEDS, **settings: Any):
    """The whole benchmark of a profile: :data:`GRID_METHODS` and the Balanced Softmax stage-2 runs
    of :data:`PRIOR_STAGE2_METHODS`, seed by seed."""
    out: dict[str, ExperimentConfig] = {}
    for s in seeds:
        out.update(grid_configs(profile, dataset, GRID_METHODS, [s], **settings))
        out.update(
            grid_configs(profile, dataset, PRIOR_STAGE2_METHODS, [s], PRIOR_STAGE2_LABEL, **settings, **PRIOR_STAGE2)
        )
    return out


@dataclass(frozen=True)
class ChapterRuns:
    """The runs a chapter shows.

    Attributes:
        chapter: the chapter's short name (its :class:`~imbalanced_contrastive.chapter.Chapter`'s).
        shared: settings every run of the chapter shares (its data: imbalance, ratio, ...).
        runs: ``{label: (method, settings)}`` in the page's order; the label is the reader's name
            of the run on every table and figure of the page.
        drawn: the labels whose embedding the page draws (UMAP, explorer, k-NN table).
    """

    chapter: str
    shared: dict[str, Any]
    runs: dict[str, tuple[str, dict[str, Any]]]
    drawn: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = [label for label in self.drawn if label not in self.runs]
        if unknown:
            raise ValueError(
                f"drawn names runs {unknown} that {self.chapter!r} does not have; its runs: {list(self.runs)}"
            )


def primer_runs(temperature: float = 0.1) -> ChapterRuns:
    """The primer: cross-entropy, Balanced Softmax and SupCon (two-stage) on step-imbalanced data."""
    return ChapterRuns(
        "primer",
        {},
        {
            "cross-entropy": ("ce", {}),
            "Balanced Softmax": ("balanced_softmax", {}),
            "SupCon (two-stage)": ("supcon", {"temperature": temperature}),
        },
        drawn=("cross-entropy", "SupCon (two-stage)"),
    )


def acl_runs(
    gammas: Sequence[float] = (2.0,),
    etas: Sequence[float] = (100.0,),
    imbalance: str = "step",
    ratio: float | None = None,
    minority_classes: Sequence[int] | None = None,
    temperature: float = 0.07,
    normalization: str = "official",
    stage2_loss: str = "ce",
) -> ChapterRuns:
    """The ACL chapter: CL, FCL for each γ, ACL for each η, AFCL for each (γ, η), and cross-entropy
    as the reference without a contrastive stage."""
    two_stage = overrides_from(temperature=temperature, normalization=normalization, stage2_loss=stage2_loss)
    runs: dict[str, tuple[str, dict[str, Any]]] = {"CL": ("cl", two_stage)}
    runs.update({f"FCL γ={g:g}": ("fcl", {**two_stage, "gamma": g}) for g in gammas})
    runs.update({f"ACL η={e:g}": ("acl", {**two_stage, "eta": e}) for e in etas})
    runs.update({f"AFCL γ={g:g} η={e:g}": ("afcl", {**two_stage, "gamma": g, "eta": e}) for g in gammas for e in etas})
    shared = overrides_from(
        imbalance=imbalance,
        ratio=ratio,
        minority_classes=None if minority_classes is None else list(minority_classes),
    )
    drawn = tuple(runs)
    runs["cross-entropy"] = ("ce", {})
    return ChapterRuns("acl_fmnist", shared, runs, drawn=drawn)


RCL_OFF = {key: off for key, off, _ in RCL_PARTS}
"""The RCL parameters that make RCL's loss BCL's (the ablation's starting point)."""


def bcl_rcl_runs(
    imbalance_factor: float = 100.0,
    temperature: float = 0.1,
    balance_strength: float = 1.0,
    feature_scale: float = 1.2247,
    margin: float = 0.1,
) -> ChapterRuns:
    """The BCL / RCL chapter: BCL, each RCL component alone, and all three, on long-tailed data."""
    return ChapterRuns(
        "bcl_rcl",
        {"imbalance": "long_tail", "ratio": imbalance_factor, "minority_classes": [], "temperature": temperature},
        {
            "BCL": ("bcl", {}),
            "BCL + (a) prior": ("rcl", {**RCL_OFF, "balance_strength": balance_strength}),
            "BCL + (b) scale": ("rcl", {**RCL_OFF, "feature_scale": feature_scale}),
            "BCL + (c) margins": ("rcl", {**RCL_OFF, "margin": margin}),
            "BCL + RCL (all)": (
                "rcl",
                {"balance_strength": balance_strength, "feature_scale": feature_scale, "margin": margin},
            ),
        },
        drawn=("BCL", "BCL + RCL (all)"),
    )


def rescom_runs(
    imbalance_factor: float = 100.0,
    queue_per_class: int | None = None,
    hard_positives: int = 1,
    hard_negatives: int | None = None,
    beta: float = 0.999999,
) -> ChapterRuns:
    """The ResCom chapter: Balanced Softmax, SupCon (two-stage), ResCom and ResCom without its
    class weights, on long-tailed data."""
    rescom = overrides_from(
        queue_per_class=queue_per_class, hard_positives=hard_positives, hard_negatives=hard_negatives, beta=beta
    )
    return ChapterRuns(
        "rescom",
        {"imbalance": "long_tail", "ratio": imbalance_factor, "minority_classes": []},
        {
            "Balanced Softmax": ("balanced_softmax", {}),
            "SupCon (two-stage)": ("supcon", {}),
            "ResCom": ("rescom", rescom),
            "ResCom, no class weights": ("rescom", {**rescom, "beta": 0.0}),
        },
        drawn=("SupCon (two-stage)", "ResCom"),
    )


CHAPTER_RUNS: dict[str, Callable[..., ChapterRuns]] = {
    "primer": primer_runs,
    "acl_fmnist": acl_runs,
    "bcl_rcl": bcl_rcl_runs,
    "rescom": rescom_runs,
}
"""Each training chapter's runs from its parameters; called with none, the chapter's defaults (the
notebooks' parameter cells hold the same defaults: a test compares them)."""


def chapter_configs(
    runs: ChapterRuns, profile: str, dataset: str, seeds: Iterable[int], **settings: Any
) -> dict[str, ExperimentConfig]:
    """The configs of a chapter's runs, ``{"<label> seed <k>": config}`` (runs outer), with
    ``settings`` (the chapter's own: epochs, device, ...; ``None`` values skipped) under each run's.

    In a committed profile, a run the page does not draw, or a seed after the first, keeps
    :data:`SMALL_SAMPLE` test embeddings, unless it is a benchmark config (then it is the
    benchmark's run, embeddings and all).
    """
    seeds = list(seeds)
    common = {**overrides_from(**settings), **runs.shared}
    out: dict[str, ExperimentConfig] = {}
    benchmark = None
    for label, (method, own) in runs.runs.items():
        for s in seeds:
            config = make_config(method, profile, dataset, **{**common, **own, "seed": s})
            if profile in COMMITTED_PROFILES and not (label in runs.drawn and s == seeds[0]):
                if benchmark is None:
                    benchmark = {run_folder(c) for c in benchmark_configs(profile, dataset, seeds).values()}
                if run_folder(config) not in benchmark:
                    config = replace(config, embed_points=min(config.embed_points, SMALL_SAMPLE))
            out[f"{label} seed {s}"] = config
    return out


def committed_grid(profile: str = "full", dataset: str = "fmnist", **settings: Any) -> dict[str, ExperimentConfig]:
    """Everything a committed profile holds, what ``make grid`` trains: the benchmark, then each
    chapter's runs at its defaults (seeds :data:`GRID_SEEDS`), each run once (a chapter's run equal
    to a benchmark run is that run), then the schedule's check (:data:`SCHEDULE_CHECK`)."""
    out = dict(benchmark_configs(profile, dataset, **settings))
    seen = {run_folder(c) for c in out.values()}
    for name, make in CHAPTER_RUNS.items():
        for label, config in chapter_configs(make(), profile, dataset, GRID_SEEDS, **settings).items():
            folder = run_folder(config)
            if folder not in seen:
                seen.add(folder)
                out[f"{name}: {label}"] = config
    check = make_config("ce", profile, dataset, seed=GRID_SEEDS[0], **{**settings, **SCHEDULE_CHECK})
    out["schedule check: ce on the balanced set seed 0"] = check
    return out


def train_grid(
    configs: dict[str, ExperimentConfig],
    results: Path | None = None,
    runs_root: Path | None = None,
    allow_dirty: bool = False,
) -> dict[str, str]:
    """Train the configs that have no record under ``results`` and commit-ready copies of their records.

    Resumable: a run whose record is in ``results`` with the config's settings is kept; an
    interrupted run resumes from its checkpoints in the runs folder. One progress line per run.

    Args:
        configs: from :func:`committed_grid`, :func:`grid_configs` or :func:`chapter_configs`.
        results: the results folder (default :func:`~imbalanced_contrastive.committed.results_root`).
        runs_root: the runs folder of the training (default the shared one).
        allow_dirty: write records made from a source tree with uncommitted changes (they may not
            be committed: the test of the committed records refuses them).

    Returns:
        ``{name: "kept" | "trained"}``.

    Raises:
        RuntimeError: the source tree has uncommitted changes and ``allow_dirty`` is false.
    """
    from imbalanced_contrastive.committed import differences, settings_of
    from imbalanced_contrastive.provenance import git_commit
    from imbalanced_contrastive.training.runner import run_experiment

    root = Path(results) if results is not None else results_root()
    commit = git_commit()
    if commit is not None and commit.endswith("-dirty") and not allow_dirty:
        raise RuntimeError(
            "the source tree has uncommitted changes: records for results/ are made from a clean commit "
            "(commit or stash them, or pass --allow-dirty for records you will not commit)"
        )
    done: dict[str, str] = {}
    for i, (name, config) in enumerate(configs.items(), start=1):
        target = root / run_folder(config)
        kept = None
        if (target / RECORD_FILE).is_file():
            try:
                kept = RunRecord.load(target)
            except CorruptRecordError:
                kept = None
        if kept is not None and not differences(settings_of(kept.config), settings_of(config)):
            done[name] = "kept"
            print(f"grid {i}/{len(configs)} {name}: kept {target}", flush=True)
            continue
        t0 = time.perf_counter()
        record = run_experiment(config, runs_root=runs_root, progress=False)
        if str(record.provenance.get("git_commit")).endswith("-dirty") and not allow_dirty:
            # cached in the runs folder from a tree with uncommitted changes: trained again
            record = run_experiment(config, cache=False, runs_root=runs_root, progress=False)
        record.provenance["overrides"] = overrides_of(config)  # what the grid's --set changed (the test remakes it)
        record.save(target, embedding_dtype="float16")
        done[name] = "trained"
        print(
            f"grid {i}/{len(configs)} {name}: trained in {time.perf_counter() - t0:.0f} s, balanced accuracy "
            f"{100 * record.metrics['balanced_accuracy']:.1f} %, few {100 * (record.metrics.get('few') or 0):.1f} % "
            f"-> {target}",
            flush=True,
        )
    return done
