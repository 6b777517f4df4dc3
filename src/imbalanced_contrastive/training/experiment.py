"""One experiment API for every paper: ``run_experiment(config) -> RunRecord``.

A *method* names what is trained; it fixes the *recipe* and the *loss*:

=================  ===========  ==========================================================
method             recipe       what it is
=================  ===========  ==========================================================
ce, focal,         supervised   end-to-end classifier baselines (cross-entropy, focal loss,
balanced_softmax                Balanced Softmax)
supcon, cl, fcl,   two_stage    ACL paper: stage 1 encoder + projection head with the
acl, afcl                       contrastive loss, stage 2 linear classifier on the frozen encoder
bcl, rcl           bcl          BCL framework: LA-CE on view 1 + contrastive loss on views 2-3
                                with classifier-weight prototypes (RCL is a reconstruction)
rescom             rescom       Siamese Balanced Softmax + class-balanced SupCon with queue
=================  ===========  ==========================================================

:func:`make_config` fills every field from a profile (``smoke``, ``quick``, ``paper``) and then
applies overrides; unknown or inconsistent fields raise ``ValueError`` *before* any training,
listing what is allowed. Records are cached under a key derived from the config and the library
version, so identical configs are never trained twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from imbalanced_contrastive._meta import __version__
from imbalanced_contrastive.data.dataset import DataSplits
from imbalanced_contrastive.data.registry import DATASETS, IMBALANCE_PROFILES, build_splits
from imbalanced_contrastive.data.views import BatchAugment
from imbalanced_contrastive.evaluation import classification_metrics, map_dataset, sample_embeddings
from imbalanced_contrastive.losses import ClassBalancedQueue, get_loss, loss_parameters
from imbalanced_contrastive.models.encoders import ENCODERS, build_encoder
from imbalanced_contrastive.profiles import PROFILES, check_profile
from imbalanced_contrastive.provenance import provenance
from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.training.device import choose_precision, derive_seed, seed_everything, select_device
from imbalanced_contrastive.training.distributed import DistInfo, init_from_env
from imbalanced_contrastive.training.loop import LoopConfig, fit
from imbalanced_contrastive.training.tasks import BCLTask, ContrastiveTask, LinearProbe, ResComTask, SupervisedTask

METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ce": ("supervised", "ce", {}),
    "focal": ("supervised", "focal", {"gamma": 2.0}),
    "balanced_softmax": ("supervised", "balanced_softmax", {}),
    "supcon": ("two_stage", "supcon", {"temperature": 0.07}),
    "cl": ("two_stage", "cl", {"temperature": 0.07, "normalization": "official"}),
    "fcl": ("two_stage", "fcl", {"temperature": 0.07, "gamma": 2.0, "normalization": "official"}),
    "acl": ("two_stage", "acl", {"temperature": 0.07, "eta": 100.0, "normalization": "official"}),
    "afcl": ("two_stage", "afcl", {"temperature": 0.07, "gamma": 2.0, "eta": 100.0, "normalization": "official"}),
    "bcl": ("bcl", "bcl", {"temperature": 0.1}),
    "rcl": ("bcl", "rcl", {"temperature": 0.1, "balance_strength": 1.0, "feature_scale": math.sqrt(1.5), "margin": 0.1}),
    "rescom": ("rescom", "rescom", {"temperature": 0.2, "beta": 0.999999, "hard_positives": 1, "hard_negatives": 100}),
}
"""method -> (recipe, loss, default loss parameters). Defaults tagged [reconstructed] in ``book/paper_specs.md`` are the
companion's documented choices, not the papers' (e.g. the ACL paper's gamma/eta grid is unknown)."""

RECIPES = ("supervised", "two_stage", "bcl", "rescom")
N_VIEWS = {"supervised": 1, "two_stage": 2, "bcl": 3, "rescom": 2}
NUM_CLASSES = {"fmnist": 10, "cifar10": 10, "cifar100": 100, "dermamnist": 7, "isic2018": 7}
IN_CHANNELS = {"fmnist": 1, "cifar10": 3, "cifar100": 3, "dermamnist": 3, "isic2018": 3}
SCHEDULES = ("cosine", "step", "constant")
STAGE2_LOSSES = ("ce", "focal")
RUNS_ENV = "IMBALANCED_CONTRASTIVE_RUNS"


@dataclass
class ExperimentConfig:
    """Every setting of one run (all plain values, so a config is JSON and hashable).

    See :data:`METHODS` for ``method``; ``loss_params`` are passed to the loss constructor.
    Settings the papers did not publish are documented defaults (tag [reconstructed] in the book's
    appendix ``book/paper_specs.md``).
    """

    method: str
    profile: str = "quick"
    seed: int = 0
    device: str = "auto"
    # data
    dataset: str = "fmnist"
    data_dir: str | None = None
    download: bool = False
    imbalance: str = "step"
    ratio: float = 10.0
    minority_classes: list[int] = field(default_factory=lambda: [0, 2, 4, 6])
    train_per_class: int | None = 600
    test_per_class: int | None = 300
    many_threshold: int = 300
    few_threshold: int = 120
    image_size: int = 64
    # model
    encoder: str = "small_cnn"
    encoder_width: int = 32
    pretrained: bool = False
    embedding_dim: int = 128
    head_hidden_dim: int = 512
    # schedule
    epochs: int = 8
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    milestones: list[int] = field(default_factory=list)
    amp: bool = True
    # two-stage (ACL paper), stage 2
    classifier_epochs: int = 30
    classifier_lr: float = 0.05
    stage2_loss: str = "ce"
    stage2_gamma: float = 2.0
    # BCL / RCL (L = ce_weight * L_LC + contrastive_weight * L_con; BCL's alpha, beta) and
    # ResCom (L = L_SBS + contrastive_weight * L_CBSC; ResCom's lambda)
    ce_weight: float = 2.0
    contrastive_weight: float | None = None
    queue_per_class: int = 20
    # loss
    loss_params: dict[str, Any] = field(default_factory=dict)
    # record
    embed_points: int = 1000

    @property
    def recipe(self) -> str:
        return METHODS[self.method][0]

    @property
    def loss(self) -> str:
        return METHODS[self.method][1]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def cache_key(self) -> str:
        """A key of the config and the library version (where the data and the run come from,
        ``data_dir``, ``download`` and ``device``, excluded)."""
        d = self.to_dict()
        for name in ("data_dir", "download", "device"):
            d.pop(name)
        blob = json.dumps({"config": d, "version": __version__}, sort_keys=True, default=str)
        return f"{self.method}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


CONFIG_FIELDS = [f.name for f in dataclasses.fields(ExperimentConfig)]


def profile_defaults(profile: str, method: str, dataset: str = "fmnist") -> dict[str, Any]:
    """The settings of ``profile`` for ``method`` on ``dataset`` (before user overrides)."""
    check_profile(profile)
    recipe = METHODS[method][0]
    d: dict[str, Any] = {}
    if profile == "smoke":
        d.update(train_per_class=40, test_per_class=20, ratio=4.0, many_threshold=30, few_threshold=12, epochs=1,
                 batch_size=32, classifier_epochs=2, warmup_epochs=0, embed_points=100, queue_per_class=4, amp=False)
        if method == "rescom":
            d["loss_params"] = {"hard_negatives": 8}
    elif profile == "quick":
        # real Fashion-MNIST subsets on 2 CPU cores: a narrow small CNN, a few epochs
        d.update(train_per_class=600, test_per_class=300, ratio=10.0, many_threshold=300, few_threshold=120,
                 encoder_width=16, epochs=8, batch_size=128, lr=0.05, classifier_epochs=30, embed_points=1000)
    else:  # paper
        if dataset in ("cifar10", "cifar100"):
            # BCL and ResCom CIFAR-LT recipes (book/paper_specs.md: spec-bcl-training, spec-rescom-training), imbalance factor 100
            d.update(imbalance="long_tail", ratio=100.0, minority_classes=[], train_per_class=None, test_per_class=None,
                     many_threshold=100, few_threshold=20, encoder="resnet32", batch_size=256, lr=0.15,
                     weight_decay=5e-4, epochs=200, warmup_epochs=5, schedule="step", milestones=[160, 180],
                     embed_points=2000)
            if recipe == "rescom":
                d.update(epochs=400, batch_size=128, lr=0.1, warmup_epochs=10, milestones=[320, 360],
                         queue_per_class=10 if dataset == "cifar100" else 100)
                d["loss_params"] = {"hard_negatives": 400}
            if recipe == "two_stage":
                d.update(classifier_epochs=30, classifier_lr=0.1)
        elif dataset in ("isic2018", "dermamnist"):
            d.update(encoder="resnet18", epochs=100, batch_size=128, lr=0.05, classifier_epochs=30, embed_points=2000)
        else:
            # ACL paper, imbalanced Fashion-MNIST: the protocol was not recoverable
            # (book/paper_specs.md, spec-acl-data). Documented defaults: step profile, ratio 100, ResNet-18 (random init,
            # small-input stem), 100 epochs of stage 1, SGD with cosine decay.
            d.update(train_per_class=None, test_per_class=None, ratio=100.0, many_threshold=100, few_threshold=20,
                     encoder="resnet18", epochs=100, batch_size=128, lr=0.05, classifier_epochs=30, embed_points=2000)
    if dataset in ("isic2018", "dermamnist"):
        # naturally imbalanced (NV has 6,705 of 10,015 images): no extra profile, all images kept
        d.update(imbalance="none", ratio=1.0, minority_classes=[], train_per_class=None, test_per_class=None,
                 many_threshold=1000, few_threshold=200)
        if profile == "smoke":
            d.update(many_threshold=3, few_threshold=2, image_size=16)
    return d


def make_config(method: str, profile: str = "quick", dataset: str = "fmnist", **overrides: Any) -> ExperimentConfig:
    """Build and validate a config: profile defaults, then ``overrides``.

    Overrides may name config fields or parameters of the method's loss (``gamma=2`` goes into
    ``loss_params``).

    Raises:
        ValueError: an unknown method/field/loss parameter or an inconsistent combination; the
            message lists the allowed values.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; got {method!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {dataset!r}")
    _, loss_name, loss_defaults = METHODS[method]
    values: dict[str, Any] = {"method": method, "profile": profile, "dataset": dataset}
    defaults = profile_defaults(profile, method, dataset)
    loss_params = {**loss_defaults, **defaults.pop("loss_params", {})}
    values.update(defaults)
    allowed_loss = loss_parameters(loss_name)
    for key, value in overrides.items():
        if key == "loss_params":
            loss_params.update(value)
        elif key in CONFIG_FIELDS:
            values[key] = value
        elif key in allowed_loss:
            loss_params[key] = value
        else:
            raise ValueError(
                f"unknown setting {key!r} for method {method!r}; allowed: config fields {CONFIG_FIELDS} "
                f"and loss parameters {[p for p in allowed_loss if p != 'class_counts']}"
            )
    values["loss_params"] = loss_params
    config = ExperimentConfig(**values)
    validate_config(config)
    return config


def validate_config(config: ExperimentConfig) -> None:
    """Check a config before any data is loaded or any model is trained."""
    if config.method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; got {config.method!r}")
    check_profile(config.profile)
    if not isinstance(config.download, bool):
        raise ValueError(f"download must be True or False; got {config.download!r}")
    if config.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {config.dataset!r}")
    if config.imbalance not in IMBALANCE_PROFILES:
        raise ValueError(f"imbalance must be one of {IMBALANCE_PROFILES}; got {config.imbalance!r}")
    if config.encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}; got {config.encoder!r}")
    if config.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {config.schedule!r}")
    if config.stage2_loss not in STAGE2_LOSSES:
        raise ValueError(f"stage2_loss must be one of {STAGE2_LOSSES}; got {config.stage2_loss!r}")
    for name in ("epochs", "batch_size", "classifier_epochs", "embed_points", "queue_per_class", "embedding_dim",
                 "encoder_width"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if config.batch_size < 2:
        raise ValueError(f"batch_size must be >= 2; got {config.batch_size}")
    for name in ("lr", "classifier_lr"):
        if not (isinstance(getattr(config, name), (int, float)) and getattr(config, name) > 0):
            raise ValueError(f"{name} must be > 0; got {getattr(config, name)!r}")
    if config.warmup_epochs < 0 or (config.warmup_epochs > 0 and config.warmup_epochs >= config.epochs):
        raise ValueError(f"warmup_epochs must be in [0, epochs); got {config.warmup_epochs} with epochs={config.epochs}")
    if config.ce_weight < 0 or (config.contrastive_weight is not None and config.contrastive_weight < 0):
        raise ValueError("ce_weight and contrastive_weight must be >= 0")
    if config.schedule == "step" and not config.milestones:
        raise ValueError("schedule='step' needs milestones (epochs at which the lr is divided by 10)")
    if config.imbalance == "none" and (config.ratio != 1.0 or config.minority_classes):
        raise ValueError("imbalance='none' needs ratio=1.0 and minority_classes=[]")
    if config.imbalance == "step" and not config.minority_classes:
        raise ValueError("imbalance='step' needs minority_classes")
    if config.imbalance == "long_tail" and config.minority_classes:
        raise ValueError("imbalance='long_tail' takes no minority_classes (set minority_classes=[])")
    c = NUM_CLASSES[config.dataset]
    bad = [k for k in config.minority_classes if not 0 <= int(k) < c]
    if bad:
        raise ValueError(f"minority_classes {bad} are outside [0, {c - 1}] for {config.dataset}")
    # the loss and its parameters
    dummy_counts = [10] * c
    params = dict(config.loss_params)
    if "class_counts" in loss_parameters(config.loss):
        params["class_counts"] = dummy_counts
    get_loss(config.loss, **params)
    if config.method == "rescom":
        hp = int(params.get("hard_positives", 1))
        hn = int(params.get("hard_negatives", 400))
        if hp > config.queue_per_class or hn > (c - 1) * config.queue_per_class:
            raise ValueError(
                f"rescom needs hard_positives <= queue_per_class ({config.queue_per_class}) and hard_negatives <= "
                f"(C-1)*queue_per_class ({(c - 1) * config.queue_per_class}); got {hp}, {hn}"
            )


def runs_dir() -> Path:
    """Default cache of run records: ``$IMBALANCED_CONTRASTIVE_RUNS`` or ``~/.cache/.../runs``."""
    env = os.environ.get(RUNS_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "imbalanced_contrastive" / "runs"


def lr_factor(config: ExperimentConfig, epoch: int) -> float:
    """Learning-rate multiplier of ``epoch`` (0-based), set once per epoch as in BCL's ``adjust_lr``:
    linear warm-up, then cosine (with BCL's +1 offsets), step (x0.1 per milestone) or constant."""
    w, e = config.warmup_epochs, config.epochs
    if epoch < w:
        return (epoch + 1) / w
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (epoch - w + 1) / (e - w + 1)))
    if config.schedule == "step":
        return 0.1 ** sum(1 for m in config.milestones if m <= epoch)
    return 1.0


def reconstruction_notes(config: ExperimentConfig) -> list[str]:
    """What in this config is a documented default or a reconstruction rather than a paper's
    published setting (tags [reconstructed]/[unknown] in ``book/paper_specs.md``); stored in every record."""
    notes = []
    if config.recipe == "two_stage" and config.dataset in ("fmnist", "isic2018", "dermamnist"):
        notes.append(
            "ACL paper: the exact imbalance protocol (classes, ratio), optimiser, schedule, epochs and gamma/eta "
            "grid were not recoverable; these are the companion's documented defaults (book appendix: What each paper specifies, ACL)"
        )
    if config.loss in ("cl", "fcl", "acl", "afcl") and config.loss_params.get("normalization") == "paper":
        notes.append("normalization='paper' (1/|P(i)|, 1/|N(i)|) is a reconstruction of the paper-level formula (book appendix: What each paper specifies, ACL)")
    if config.loss == "rcl":
        notes.append("RCL: the paper's exact loss was unavailable; this is the companion's reconstruction (book appendix: What each paper specifies, RCL)")
    if config.dataset == "fmnist" and config.recipe in ("bcl", "rescom"):
        notes.append("BCL/RCL/ResCom were published on CIFAR-LT and ImageNet-LT, not Fashion-MNIST")
    if config.profile != "paper":
        notes.append(f"profile '{config.profile}': reduced data and schedule, not the papers' protocol")
    if config.encoder in ("resnet18", "resnet50") and not config.pretrained:
        notes.append("ResNet trained from random initialisation (the ACL code used ImageNet weights)")
    return notes


def contrastive_weight(config: ExperimentConfig) -> float:
    """The contrastive term's weight: as set, else BCL's beta = 0.6 or ResCom's lambda = 0.5."""
    if config.contrastive_weight is not None:
        return float(config.contrastive_weight)
    return 0.5 if config.recipe == "rescom" else 0.6


def _optimizer(params, config: ExperimentConfig, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)


def build_task(config: ExperimentConfig, counts: list[int], device: torch.device) -> nn.Module:
    c = len(counts)
    encoder = build_encoder(config.encoder, IN_CHANNELS[config.dataset], pretrained=config.pretrained,
                            width=config.encoder_width)
    params = dict(config.loss_params)
    if "class_counts" in loss_parameters(config.loss):
        params["class_counts"] = counts
    loss = get_loss(config.loss, **params)
    if config.recipe == "supervised":
        task: nn.Module = SupervisedTask(encoder, c, loss)
    elif config.recipe == "two_stage":
        task = ContrastiveTask(encoder, loss, config.embedding_dim)
    elif config.recipe == "bcl":
        task = BCLTask(encoder, c, get_loss("la_ce", class_counts=counts), loss, config.ce_weight,
                       contrastive_weight(config), config.embedding_dim, config.head_hidden_dim)
    else:
        queue = ClassBalancedQueue(c, config.queue_per_class, config.embedding_dim, seed=derive_seed(config.seed, 7))
        task = ResComTask(encoder, c, get_loss("siamese_balanced_softmax", class_counts=counts), loss, queue,
                          contrastive_weight(config), config.embedding_dim, config.head_hidden_dim)
    return task.to(device)


def _train_linear_probe(
    probe: LinearProbe, splits, config: ExperimentConfig, device: torch.device, progress: bool
) -> list[dict]:
    """Stage 2: a linear classifier on frozen, precomputed encoder features (no augmentation)."""
    probe.encoder.eval()
    for p in probe.encoder.parameters():
        p.requires_grad_(False)
    feats = map_dataset(probe.encoder, splits.train, device).to(device)
    labels = splits.train.labels.to(device)
    test_feats = map_dataset(probe.encoder, splits.test, device).to(device)
    criterion = get_loss("focal", gamma=config.stage2_gamma) if config.stage2_loss == "focal" else get_loss("ce")
    opt = _optimizer(probe.classifier.parameters(), config, config.classifier_lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.classifier_epochs)
    history = []
    g = torch.Generator().manual_seed(derive_seed(config.seed, 2))
    for epoch in range(config.classifier_epochs):
        order = torch.randperm(len(labels), generator=g).to(device)
        total, steps = 0.0, 0
        for idx in order.split(config.batch_size):
            loss = criterion(probe.classifier(feats[idx]).float(), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, steps = total + float(loss.detach()), steps + 1
        sched.step()
        with torch.no_grad():
            preds = probe.classifier(test_feats).argmax(1).cpu()
        m = classification_metrics(preds, splits.test.labels, splits.num_classes, splits.groups)
        history.append({"stage": 2, "epoch": epoch + 1, "loss": total / max(steps, 1),
                        "test_accuracy": m["accuracy"], "test_balanced_accuracy": m["balanced_accuracy"]})
    return history


def view_augment(config: ExperimentConfig) -> BatchAugment:
    # Fashion-MNIST and CIFAR: crops + flips + jitter; digits would need flip=False.
    return BatchAugment(scale=(0.5, 1.0), max_translate=0.1, flip=True, jitter=0.4)


def splits_for(config: ExperimentConfig) -> DataSplits:
    """The (imbalanced) train/test splits a config trains and evaluates on."""
    return build_splits(
        config.dataset, data_dir=config.data_dir, download=config.download, imbalance=config.imbalance, ratio=float(config.ratio),
        minority_classes=config.minority_classes, train_per_class=config.train_per_class,
        test_per_class=config.test_per_class, seed=config.seed, many_threshold=config.many_threshold,
        few_threshold=config.few_threshold, image_size=config.image_size,
    )


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
        config: from :func:`make_config` (validated again here).
        cache: reuse a record with the same :meth:`ExperimentConfig.cache_key`; write new ones.
        runs_root: cache folder (default :func:`runs_dir`); records go to ``<root>/<key>/``.
        progress: tqdm progress bars (always quiet under ``CI``).
        keep_checkpoints: keep the per-epoch checkpoints after success (they allow resuming an
            interrupted run either way).

    Returns:
        The record: config, per-epoch history, final test metrics, embedding sample, provenance.
    """
    validate_config(config)
    root = Path(runs_root) if runs_root is not None else runs_dir()
    out = root / config.cache_key()
    if cache and (out / "record.json").is_file():
        return RunRecord.load(out)
    t0 = time.perf_counter()
    device = select_device(config.device)
    dist_info: DistInfo = init_from_env(device.type)
    if dist_info.enabled and device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    seed_everything(config.seed)
    splits = splits_for(config)
    counts = [int(n) for n in splits.class_counts]
    torch.manual_seed(derive_seed(config.seed, 0))
    task = build_task(config, counts, device)
    optimizer = _optimizer([p for p in task.parameters() if p.requires_grad], config, config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: lr_factor(config, e))
    loop = LoopConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                      n_views=N_VIEWS[config.recipe], amp=config.amp, progress=progress)
    history = fit(task, splits, optimizer, loop, device, scheduler=scheduler, augment=view_augment(config),
                  checkpoint_dir=out / "checkpoints", desc=config.method, dist_info=dist_info)
    for h in history:
        h.setdefault("stage", 1)
    if config.recipe == "two_stage":
        torch.manual_seed(derive_seed(config.seed, 3))
        predictor = LinearProbe(task.encoder, splits.num_classes).to(device)
        history += _train_linear_probe(predictor, splits, config, device, progress)
    else:
        predictor = task
    predictor.eval()
    logits = map_dataset(predictor.predict, splits.test, device)
    metrics = classification_metrics(logits.argmax(1), splits.test.labels, splits.num_classes, splits.groups)
    metrics["groups"] = splits.groups.as_dict()
    emb, emb_labels = sample_embeddings(predictor.embed, splits.test, device, config.embed_points, seed=config.seed)
    full_config = {**config.to_dict(), "recipe": config.recipe, "loss": config.loss, "cache_key": config.cache_key(),
                   "world_size": dist_info.world_size, "notes": reconstruction_notes(config)}
    record = RunRecord(
        config=full_config,
        history=history,
        metrics=metrics,
        provenance={**provenance(device), "precision": choose_precision(device, config.amp), "data": splits.description,
                    "classes": splits.classes},
        wall_time_s=time.perf_counter() - t0,
        embeddings=emb.numpy(),
        embedding_labels=emb_labels.numpy(),
    )
    if dist_info.is_main:
        record.save(out)
        if not keep_checkpoints:
            shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return record


def overrides_from(**settings: Any) -> dict[str, Any]:
    """The settings that are not ``None`` (notebook parameters left at ``None`` keep the profile's value)."""
    return {k: v for k, v in settings.items() if v is not None}


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
        report_progress(f"run {i}/{len(configs)} {name}: {how}, balanced accuracy "
                        f"{100 * record.metrics['balanced_accuracy']:.1f} %")
    return out


def describe_methods() -> str:
    """A table of methods, recipes and default loss parameters (for ``--help``)."""
    lines = []
    for name, (recipe, loss, params) in METHODS.items():
        sig = ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={round(v, 6)}" for k, v in params.items())
        lines.append(f"  {name:<17} recipe={recipe:<11} loss={loss:<17} {sig}")
    return "\n".join(lines)

