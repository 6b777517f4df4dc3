"""Recipes: how each family of methods is trained, one :class:`Recipe` object per family.

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

A recipe knows its views, its methods and their default loss parameters, the default weight of
its contrastive term, what it changes in a profile, how to build the task that one training step
computes, and how to train it (every stage through the one loop,
:func:`~imbalanced_contrastive.training.loop.fit`). Defaults tagged [reconstructed] in
``book/paper_specs.md`` are the companion's documented choices, not the papers'.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from imbalanced_contrastive.data.dataset import DataSplits
from imbalanced_contrastive.data.views import BatchAugment, named_augmentation
from imbalanced_contrastive.evaluation import map_dataset
from imbalanced_contrastive.losses import ClassBalancedQueue, get_loss, loss_parameters
from imbalanced_contrastive.models.encoders import build_encoder
from imbalanced_contrastive.records import atomic_write
from imbalanced_contrastive.training.checkpoint import move_aside
from imbalanced_contrastive.training.config import ExperimentConfig
from imbalanced_contrastive.training.device import choose_precision, derive_seed
from imbalanced_contrastive.training.distributed import DistInfo
from imbalanced_contrastive.training.loop import LoopConfig, fit
from imbalanced_contrastive.training.tasks import BCLTask, ContrastiveTask, LinearProbe, ResComTask, SupervisedTask


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


def make_sgd(params, config: ExperimentConfig, lr: float) -> torch.optim.Optimizer:
    """SGD with momentum; the fused CUDA kernel on a GPU (one launch per step, and the gradient
    scaler passes it its overflow flag without a host synchronisation), the reference loop on
    the CPU (whose results the book's records hold)."""
    params = list(params)
    fused = bool(params) and all(p.device.type == "cuda" for p in params)
    return torch.optim.SGD(
        params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay, **({"fused": True} if fused else {})
    )


@dataclass(frozen=True)
class Recipe:
    """A family of methods trained the same way.

    Attributes:
        name: the family's name.
        n_views: augmented views per image in one training step.
        methods: method name -> its default loss parameters (the method's loss has its name).
        contrastive_weight: the default weight of the contrastive term (``None``: no such term).
    """

    name: str
    n_views: int
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    contrastive_weight: float | None = None

    def profile_settings(self, profile: str, dataset: str) -> dict[str, Any]:
        """What this recipe changes in ``profile`` on ``dataset`` (none by default)."""
        return {}

    def validate(self, config: ExperimentConfig, num_classes: int) -> None:
        """Checks of settings only this recipe uses (none by default)."""

    def weight(self, config: ExperimentConfig) -> float:
        """The contrastive term's weight: as set in the config, else the recipe's default."""
        if self.contrastive_weight is None:
            raise ValueError(f"recipe {self.name!r} has no contrastive term")
        return float(config.contrastive_weight if config.contrastive_weight is not None else self.contrastive_weight)

    def build_task(self, config: ExperimentConfig, counts: list[int], device: torch.device) -> nn.Module:
        """The module one training step runs (see :mod:`~imbalanced_contrastive.training.tasks`)."""
        raise NotImplementedError

    def loss(self, config: ExperimentConfig, counts: list[int]) -> nn.Module:
        """The method's loss with the config's parameters (and the class counts where it needs them)."""
        params = dict(config.loss_params)
        if "class_counts" in loss_parameters(config.loss):
            params["class_counts"] = counts
        return get_loss(config.loss, **params)

    def augment(self, config: ExperimentConfig) -> BatchAugment:
        """The training views: the config's named augmentation (crops, shifts, jitter; flips where
        the dataset allows them)."""
        return named_augmentation(config.augmentation, config.dataset)

    def encoder(self, config: ExperimentConfig) -> nn.Module:
        from imbalanced_contrastive.data.catalogue import dataset_spec

        return build_encoder(
            config.encoder,
            dataset_spec(config.dataset).in_channels,
            pretrained=config.pretrained,
            width=config.encoder_width,
        )

    def train(
        self,
        config: ExperimentConfig,
        splits: DataSplits,
        device: torch.device,
        out: Path,
        progress: bool,
        dist_info: DistInfo,
    ) -> tuple[nn.Module, list[dict]]:
        """Train ``config`` on ``splits``; returns the predictor (``predict`` and ``embed``) and the
        per-epoch history. Checkpoints go to ``out`` (every stage resumes exactly)."""
        counts = [int(n) for n in splits.class_counts]
        torch.manual_seed(derive_seed(config.seed, 0))
        task = self.build_task(config, counts, device)
        optimizer = make_sgd([p for p in task.parameters() if p.requires_grad], config, config.lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: lr_factor(config, e))
        loop = LoopConfig(
            epochs=config.epochs,
            batch_size=config.batch_size,
            seed=config.seed,
            n_views=self.n_views,
            amp=config.amp,
            progress=progress,
            eval_every=config.eval_every,
            sync_batchnorm=config.sync_batchnorm,
        )
        history = fit(
            task,
            splits,
            optimizer,
            loop,
            device,
            scheduler=scheduler,
            augment=self.augment(config),
            checkpoint_dir=out / "checkpoints",
            desc=config.method,
            dist_info=dist_info,
        )
        return task, [{"stage": 1, **h} for h in history]


class _Supervised(Recipe):
    def build_task(self, config, counts, device):
        return SupervisedTask(self.encoder(config), len(counts), self.loss(config, counts)).to(device)


STAGE2_FIELDS = ("classifier_epochs", "classifier_lr", "stage2_loss", "stage2_gamma", "embed_points")
"""The settings that leave a two-stage run's stage 1 unchanged: those only its stage 2 reads, and
the size of the test-embedding sample kept in the record."""


def stage1_key(config: ExperimentConfig) -> str:
    """The key of a two-stage run's stage 1: its cache key with the stage-2 settings at their defaults."""
    defaults = ExperimentConfig.__dataclass_fields__
    return dataclasses.replace(config, **{f: defaults[f].default for f in STAGE2_FIELDS}).cache_key()


class _TwoStage(Recipe):
    def profile_settings(self, profile, dataset):
        if profile == "paper" and dataset in ("cifar10", "cifar100"):
            return {"classifier_epochs": 30, "classifier_lr": 0.1}
        return {}

    def build_task(self, config, counts, device):
        return ContrastiveTask(self.encoder(config), self.loss(config, counts), config.embedding_dim).to(device)

    def stage1(self, config, splits, device, out, progress, dist_info):
        """The stage-1 task (encoder + head) and its history, trained once per stage-1 settings:
        runs that differ only in stage 2 (:data:`STAGE2_FIELDS`) share it through
        ``<runs folder>/stage1/<key>.pt`` (the encoder's weights and the stage-1 history), so a
        second stage-2 classifier costs seconds, with the same numbers as a run trained whole."""
        shared = out.parent / "stage1" / f"{stage1_key(config)}.pt"
        if shared.is_file():
            try:
                state = torch.load(shared, map_location=device, weights_only=True)
                torch.manual_seed(derive_seed(config.seed, 0))
                task = self.build_task(config, [int(n) for n in splits.class_counts], device)
                task.load_state_dict(state["task"])
                return task, list(state["history"])
            except Exception as err:  # noqa: BLE001 - any unreadable file: report, retrain
                aside = move_aside(shared)
                warnings.warn(
                    f"stage-1 file {shared} is unreadable ({err}); moved to {aside.name}", RuntimeWarning, stacklevel=2
                )
        task, history = super().train(config, splits, device, out, progress, dist_info)
        if dist_info.is_main:
            shared.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(shared, lambda tmp: torch.save({"task": task.state_dict(), "history": history}, tmp))
        return task, history

    def train(self, config, splits, device, out, progress, dist_info):
        """Stage 1 (the contrastive loss; :meth:`stage1`), then stage 2: a linear classifier on the
        frozen encoder, trained on its precomputed features (no augmentation), through the same loop,
        with cross-entropy, focal loss or Balanced Softmax (the log class prior added to the logits in
        training, :mod:`~imbalanced_contrastive.losses.classification_lt`)."""
        task, history = self.stage1(config, splits, device, out, progress, dist_info)
        encoder = task.encoder.eval()
        for p in encoder.parameters():
            p.requires_grad_(False)
        torch.manual_seed(derive_seed(config.seed, 3))
        if config.stage2_loss == "focal":
            criterion = get_loss("focal", gamma=config.stage2_gamma)
        elif config.stage2_loss == "balanced_softmax":
            criterion = get_loss("balanced_softmax", class_counts=[int(n) for n in splits.class_counts])
        else:
            criterion = get_loss("ce")
        probe = LinearProbe(encoder, splits.num_classes, criterion).to(device)
        # the frozen encoder's features, computed once under the run's autocast, kept on the device
        features = map_dataset(
            encoder, splits.train, device, precision=choose_precision(device, config.amp), to_host=False
        )
        optimizer = make_sgd(probe.classifier.parameters(), config, config.classifier_lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.classifier_epochs)
        loop = LoopConfig(
            epochs=config.classifier_epochs,
            batch_size=config.batch_size,
            seed=derive_seed(config.seed, 2),
            n_views=1,
            amp=False,
            progress=progress,
            eval_every=config.classifier_epochs if config.eval_every else None,
        )
        stage2 = fit(
            probe,
            splits,
            optimizer,
            loop,
            device,
            scheduler=scheduler,
            inputs=features,
            checkpoint_dir=out / "checkpoints-stage2",
            desc=f"{config.method} stage 2",
            dist_info=dist_info,
        )
        return probe, history + [{"stage": 2, **h} for h in stage2]


class _BCL(Recipe):
    def build_task(self, config, counts, device):
        return BCLTask(
            self.encoder(config),
            len(counts),
            get_loss("la_ce", class_counts=counts),
            self.loss(config, counts),
            config.ce_weight,
            self.weight(config),
            config.embedding_dim,
            config.head_hidden_dim,
        ).to(device)


class _ResCom(Recipe):
    def profile_settings(self, profile, dataset):
        if profile == "smoke":
            return {"loss_params": {"hard_negatives": 8}}
        if profile == "paper" and dataset in ("cifar10", "cifar100"):
            return {
                "epochs": 400,
                "batch_size": 128,
                "lr": 0.1,
                "warmup_epochs": 10,
                "milestones": [320, 360],
                "queue_per_class": 10 if dataset == "cifar100" else 100,
                "loss_params": {"hard_negatives": 400},
            }
        return {}

    def validate(self, config, num_classes):
        hp, hn = config.loss_params["hard_positives"], config.loss_params["hard_negatives"]
        if hp > config.queue_per_class or hn > (num_classes - 1) * config.queue_per_class:
            raise ValueError(
                f"rescom needs hard_positives <= queue_per_class ({config.queue_per_class}) and hard_negatives <= "
                f"(C-1)*queue_per_class ({(num_classes - 1) * config.queue_per_class}); got {hp}, {hn}"
            )

    def build_task(self, config, counts, device):
        c = len(counts)
        queue = ClassBalancedQueue(c, config.queue_per_class, config.embedding_dim, seed=derive_seed(config.seed, 7))
        return ResComTask(
            self.encoder(config),
            c,
            get_loss("siamese_balanced_softmax", class_counts=counts),
            self.loss(config, counts),
            queue,
            self.weight(config),
            config.embedding_dim,
            config.head_hidden_dim,
        ).to(device)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        _Supervised("supervised", 1, {"ce": {}, "focal": {"gamma": 2.0}, "balanced_softmax": {}}),
        _TwoStage(
            "two_stage",
            2,
            {
                "supcon": {"temperature": 0.07},
                "cl": {"temperature": 0.07, "normalization": "official"},
                "fcl": {"temperature": 0.07, "gamma": 2.0, "normalization": "official"},
                "acl": {"temperature": 0.07, "eta": 100.0, "normalization": "official"},
                "afcl": {"temperature": 0.07, "gamma": 2.0, "eta": 100.0, "normalization": "official"},
            },
        ),
        # BCL: alpha = ce_weight = 2 (a config default), beta = 0.6
        _BCL(
            "bcl",
            3,
            {
                "bcl": {"temperature": 0.1},
                "rcl": {"temperature": 0.1, "balance_strength": 1.0, "feature_scale": math.sqrt(1.5), "margin": 0.1},
            },
            contrastive_weight=0.6,
        ),
        # ResCom: lambda = 0.5
        _ResCom(
            "rescom",
            2,
            {
                "rescom": {"temperature": 0.2, "beta": 0.999999, "hard_positives": 1, "hard_negatives": 100},
            },
            contrastive_weight=0.5,
        ),
    )
}
"""The recipe families by name."""

METHODS: dict[str, Recipe] = {method: recipe for recipe in RECIPES.values() for method in recipe.methods}
"""Every method and the recipe that trains it, in the order the book lists them."""


def recipe_of(method: str) -> Recipe:
    """The recipe of ``method``; raises ``ValueError`` listing the methods."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; got {method!r}")
    return METHODS[method]


def describe_methods() -> str:
    """A table of methods, recipes and default loss parameters (for ``--help``)."""
    lines = []
    for name, recipe in METHODS.items():
        sig = ", ".join(f"{k}={round(v, 6) if isinstance(v, float) else v!r}" for k, v in recipe.methods[name].items())
        lines.append(f"  {name:<17} recipe={recipe.name:<11} {sig}")
    return "\n".join(lines)
