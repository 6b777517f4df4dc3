"""Running experiments: ``run_experiment(config) -> RunRecord``, cached.

Records are cached under ``<runs folder>/<cache key>/`` where the key is derived from the settings
and the library version, so an identical config is never trained twice. A cached record is used
only if it reads back and was made by the same config (its key and method match); otherwise it is
reported with its path, moved aside and the run is recomputed. A file lock per key lets several
processes share a runs folder: the second one waits and then loads the first one's record. The CLI, the notebooks and
the book build share one runs folder: :func:`runs_dir` (``$IMBALANCED_CONTRASTIVE_RUNS``, else the
user cache); the book build points it at ``book/_generated/runs``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import warnings
from pathlib import Path

import torch
from filelock import FileLock

from imbalanced_contrastive.data.dataset import DataSplits
from imbalanced_contrastive.data.splits import build_splits
from imbalanced_contrastive.evaluation import classification_metrics, map_dataset, sample_embeddings, sample_indices
from imbalanced_contrastive.provenance import provenance
from imbalanced_contrastive.records import CorruptRecordError, RunRecord
from imbalanced_contrastive.training.checkpoint import move_aside
from imbalanced_contrastive.training.config import ExperimentConfig, validate_config
from imbalanced_contrastive.training.device import choose_precision, deterministic_mode, seed_everything, select_device
from imbalanced_contrastive.training.distributed import DistInfo, init_from_env, shutdown
from imbalanced_contrastive.training.recipes import recipe_of

RUNS_ENV = "IMBALANCED_CONTRASTIVE_RUNS"


def runs_dir() -> Path:
    """The runs folder: ``$IMBALANCED_CONTRASTIVE_RUNS`` or ``~/.cache/imbalanced_contrastive/runs``."""
    env = os.environ.get(RUNS_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "imbalanced_contrastive" / "runs"


def splits_for(config: ExperimentConfig) -> DataSplits:
    """The (imbalanced) train/test splits a config trains and evaluates on."""
    return build_splits(
        config.dataset,
        data_dir=config.data_dir,
        download=config.download,
        imbalance=config.imbalance,
        ratio=float(config.ratio),
        minority_classes=config.minority_classes,
        train_per_class=config.train_per_class,
        test_per_class=config.test_per_class,
        seed=config.seed,
        many_threshold=config.many_threshold,
        few_threshold=config.few_threshold,
        image_size=config.image_size,
    )


def reconstruction_notes(config: ExperimentConfig) -> list[str]:
    """What in this config is a documented default or a reconstruction rather than a paper's
    published setting (tags [reconstructed]/[unknown] in ``book/paper_specs.md``); stored in every record."""
    notes = []
    if config.recipe == "two_stage" and config.dataset in ("fmnist", "isic2018", "dermamnist"):
        notes.append(
            "ACL paper: the exact imbalance protocol (classes, ratio), optimiser, schedule, epochs and gamma/eta "
            "grid were not recoverable; these are the companion's documented defaults "
            "(book appendix: What each paper specifies, ACL)"
        )
    if config.loss in ("cl", "fcl", "acl", "afcl") and config.loss_params.get("normalization") == "paper":
        notes.append(
            "normalization='paper' (1/|P(i)|, 1/|N(i)|) is a reconstruction of the paper-level formula "
            "(book appendix: What each paper specifies, ACL)"
        )
    if config.loss == "rcl":
        notes.append(
            "RCL: the paper's exact loss was unavailable; this is the companion's reconstruction "
            "(book appendix: What each paper specifies, RCL)"
        )
    if config.dataset == "fmnist" and config.recipe in ("bcl", "rescom"):
        notes.append("BCL/RCL/ResCom were published on CIFAR-LT and ImageNet-LT, not Fashion-MNIST")
    if config.profile != "paper":
        notes.append(f"profile '{config.profile}': reduced data and schedule, not the papers' protocol")
    if config.encoder in ("resnet18", "resnet50") and not config.pretrained:
        notes.append("ResNet trained from random initialisation (the ACL code used ImageNet weights)")
    return notes


def run_experiment(
    config: ExperimentConfig,
    *,
    cache: bool = True,
    runs_root: str | Path | None = None,
    progress: bool = True,
    keep_checkpoints: bool = False,
) -> RunRecord:
    """Train and evaluate ``config``; return (and cache) its :class:`RunRecord`.

    Args:
        config: from :func:`~imbalanced_contrastive.training.config.make_config` (validated again here).
        cache: reuse a record with the same cache key; write new ones.
        runs_root: the runs folder (default :func:`runs_dir`); records go to ``<root>/<key>/``.
        progress: progress bars (see :func:`~imbalanced_contrastive.training.device.progress_mode`).
        keep_checkpoints: keep the per-epoch checkpoints after success (they allow resuming an
            interrupted run either way).

    Returns:
        The record: config, per-epoch history, final test metrics, embedding sample, provenance.
    """
    validate_config(config)
    root = _writable_runs_folder(Path(runs_root) if runs_root is not None else runs_dir())
    # one process at a time per config; under torchrun the ranks of one run work together instead
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    with contextlib.nullcontext() if distributed else FileLock(str(root / f"{config.cache_key()}.lock")):
        if cache:
            record = cached_record(config, root)
            if record is not None:
                return record
        return _train(config, root / config.cache_key(), progress, keep_checkpoints)


def _writable_runs_folder(root: Path) -> Path:
    """``root``, created if needed; raises ``ValueError`` naming it when it cannot hold records
    (before anything is trained)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"the runs folder {root} cannot be written ({err}); choose another with runs_root / "
            f"--runs-root or ${RUNS_ENV}"
        ) from err
    return root


def cached_record(config: ExperimentConfig, root: Path) -> RunRecord | None:
    """The cached record of ``config`` in ``root``, or ``None``.

    A record that cannot be read, or that another config made (its cache key or method differ),
    is reported with its path in a warning and moved aside, so that the run is recomputed.
    """
    out = root / config.cache_key()
    path = out / "record.json"
    if path.exists() and not path.is_file():  # a folder (or another non-file) where the record goes
        aside = move_aside(path)
        warnings.warn(
            f"run record {path} is not a file; moved to {aside.name}, the run is recomputed",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    if not path.is_file():
        return None
    try:
        record = RunRecord.load(out)
        made_by = (record.config.get("cache_key"), record.config.get("method"))
        if made_by != (config.cache_key(), config.method):
            raise CorruptRecordError(f"run record {path} was made by another config {made_by}")
        return record
    except CorruptRecordError as err:
        aside = move_aside(path)
        warnings.warn(f"{err}; moved to {aside.name}, the run is recomputed", RuntimeWarning, stacklevel=3)
        return None


def _train(config: ExperimentConfig, out: Path, progress: bool, keep_checkpoints: bool) -> RunRecord:
    recipe = recipe_of(config.method)
    t0 = time.perf_counter()
    device = select_device(config.device)
    dist_info, created_group = init_from_env(device.type)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    try:
        with deterministic_mode(config.deterministic):
            return _train_on(config, recipe, out, device, dist_info, progress, keep_checkpoints, t0)
    finally:
        shutdown(created_group)


def _train_on(
    config,
    recipe,
    out: Path,
    device: torch.device,
    dist_info: DistInfo,
    progress: bool,
    keep_checkpoints: bool,
    t0: float,
) -> RunRecord:
    precision = choose_precision(device, config.amp)
    seed_everything(config.seed)
    splits = splits_for(config)
    t_setup = time.perf_counter()
    predictor, history = recipe.train(config, splits, device, out, progress, dist_info)
    t_eval = time.perf_counter()
    predictor.eval()
    logits = map_dataset(predictor.predict, splits.test, device, precision=precision)
    predictions = logits.argmax(1)
    metrics = classification_metrics(predictions, splits.test.labels, splits.num_classes, splits.groups)
    metrics["groups"] = splits.groups.as_dict()
    sampled = sample_indices(len(splits.test), config.embed_points, config.seed)  # the rows sample_embeddings maps
    emb, emb_labels = sample_embeddings(
        predictor.embed, splits.test, device, config.embed_points, seed=config.seed, precision=precision
    )
    full_config = {
        **config.to_dict(),
        "recipe": recipe.name,
        "loss": config.loss,
        "cache_key": config.cache_key(),
        "world_size": dist_info.world_size,
        "notes": reconstruction_notes(config),
    }
    record = RunRecord(
        config=full_config,
        history=history,
        metrics=metrics,
        provenance={
            **provenance(device),
            "precision": precision,
            "deterministic": config.deterministic,
            "data": splits.description,
            "classes": splits.classes,
        },
        # training time summed over every epoch of every stage (resumed runs included), plus the
        # data loading and final evaluation of this process
        wall_time_s=sum(h.get("time_s", 0.0) for h in history) + (time.perf_counter() - t_eval) + (t_setup - t0),
        embeddings=emb.numpy(),
        embedding_labels=emb_labels.numpy(),
        embedding_indices=sampled.numpy(),
        embedding_predictions=predictions[sampled].numpy(),
    )
    if dist_info.is_main:
        record.save(out)
        if not keep_checkpoints:
            for folder in out.glob("checkpoints*"):
                shutil.rmtree(folder, ignore_errors=True)
    return record


def run_all(
    configs: dict[str, ExperimentConfig], runs_root: str | Path | None = None, progress: bool = True
) -> dict[str, RunRecord]:
    """Run (or load from the cache) several configs; returns ``{name: record}`` in order.

    Progress follows :func:`~imbalanced_contrastive.training.device.progress_mode`: a bar over the
    runs, or one line per run (``lines`` mode, used by the book build).
    """
    from tqdm.auto import tqdm

    from imbalanced_contrastive.training.device import progress_enabled, report_progress

    root = Path(runs_root) if runs_root is not None else runs_dir()
    out = {}
    bar = tqdm(configs.items(), desc="runs", disable=not progress_enabled(progress))
    for i, (name, config) in enumerate(bar, start=1):
        bar.set_postfix_str(name)
        cached = (root / config.cache_key() / "record.json").is_file()
        t0 = time.perf_counter()
        out[name] = record = run_experiment(config, runs_root=root, progress=progress)
        how = "loaded from the cache" if cached else f"trained in {time.perf_counter() - t0:.0f} s"
        report_progress(
            f"run {i}/{len(configs)} {name}: {how}, balanced accuracy {100 * record.metrics['balanced_accuracy']:.1f} %"
        )
    return out
