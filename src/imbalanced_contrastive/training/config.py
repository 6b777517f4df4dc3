"""The configuration of one run: its schema, every default (defined once, here), and validation.

The defaults of :class:`ExperimentConfig` *are* the ``quick`` profile on Fashion-MNIST; the other
profiles and datasets state only what they change (:mod:`imbalanced_contrastive.training.profiles`,
:mod:`imbalanced_contrastive.data.catalogue`), and each recipe adds its own defaults
(:mod:`imbalanced_contrastive.training.recipes`). :func:`make_config` composes them and applies
the user's overrides; anything unknown or inconsistent raises ``ValueError`` before any data is
loaded, naming the setting and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from imbalanced_contrastive._meta import __version__

SCHEDULES = ("cosine", "step", "constant")
PRETRAINED_ENCODERS = ("resnet18", "resnet50")
"""Encoders with published ImageNet weights (``pretrained=True``)."""
STAGE2_LOSSES = ("ce", "focal", "balanced_softmax")

NOT_SETTINGS = ("data_dir", "download", "device")
"""Config fields that say where a run's data and hardware come from, not what the run is: they are
left out of the cache key (a run is reused whatever folder its data came from)."""


@dataclass
class ExperimentConfig:
    """Every setting of one run (plain values, so a config is JSON and hashable).

    ``method`` names what is trained (see :data:`~imbalanced_contrastive.training.recipes.METHODS`);
    ``loss_params`` are passed to the method's loss.
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
    # quick: a fifth of Fashion-MNIST's training images (2000 per majority class, 200 per minority
    # class at ratio 10) and its whole test set; more data per epoch beat more epochs on 2 CPU cores
    train_per_class: int | None = 2000
    test_per_class: int | None = 1000
    many_threshold: int = 1000
    few_threshold: int = 400
    image_size: int = 64
    augmentation: str = "light"
    # model
    encoder: str = "small_cnn"
    encoder_width: int = 16
    pretrained: bool = False
    embedding_dim: int = 128
    head_hidden_dim: int = 512
    # schedule
    epochs: int = 4
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: int = 1
    milestones: list[int] = field(default_factory=list)
    amp: bool = True
    # deterministic kernels on CUDA (bit-exact reruns and resumes there, slower); the CPU is
    # deterministic either way (training.device.deterministic_mode)
    deterministic: bool = False
    # under torchrun: BatchNorm statistics of the global batch (SyncBatchNorm) instead of each rank's
    sync_batchnorm: bool = False
    # test-set evaluations during training, for a learning curve in the history: every this many
    # epochs (and at the end of each stage); None: none, the trained model is evaluated once (the
    # quick book plots no curve)
    eval_every: int | None = None
    # two-stage recipe (ACL paper), stage 2
    classifier_epochs: int = 30
    classifier_lr: float = 0.05
    stage2_loss: str = "ce"
    stage2_gamma: float = 2.0
    # loss weights: BCL/RCL  L = ce_weight * L_LC + contrastive_weight * L_con  (BCL's alpha, beta);
    # ResCom  L = L_SBS + contrastive_weight * L_CBSC  (ResCom's lambda); None: the recipe's default
    ce_weight: float = 2.0
    contrastive_weight: float | None = None
    queue_per_class: int = 20
    # loss
    loss_params: dict[str, Any] = field(default_factory=dict)
    # record
    embed_points: int = 1000

    @property
    def recipe(self) -> str:
        """The name of the method's recipe family."""
        from imbalanced_contrastive.training.recipes import recipe_of

        return recipe_of(self.method).name

    @property
    def loss(self) -> str:
        """The registry name of the method's loss (the method's own name)."""
        return self.method

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def runtime(self) -> dict[str, str]:
        """What the hardware makes of this config: the device type it trains on and its precision
        (``bf16``/``fp16``/``fp32``, :func:`~imbalanced_contrastive.training.device.choose_precision`)."""
        from imbalanced_contrastive.training.device import choose_precision, select_device

        device = select_device(self.device)
        return {"device_type": device.type, "precision": choose_precision(device, self.amp)}

    def cache_key(self) -> str:
        """A key of the settings, the device type and precision (:meth:`runtime`: an fp16 run is
        not an fp32 run) and the library version (:data:`NOT_SETTINGS` excluded)."""
        d = {k: v for k, v in self.to_dict().items() if k not in NOT_SETTINGS}
        blob = json.dumps({"config": d, "version": __version__, "runtime": self.runtime()}, sort_keys=True, default=str)
        return f"{self.method}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


CONFIG_FIELDS = [f.name for f in dataclasses.fields(ExperimentConfig)]


def make_config(method: str, profile: str = "quick", dataset: str = "fmnist", **overrides: Any) -> ExperimentConfig:
    """Build and validate a config: the defaults, the profile's and recipe's settings for
    ``dataset``, then ``overrides``.

    Overrides may name config fields or parameters of the method's loss (``gamma=2`` goes into
    ``loss_params``).

    Raises:
        ValueError: an unknown method/field/loss parameter or an inconsistent combination; the
            message lists the allowed values.
    """
    from imbalanced_contrastive.data.catalogue import dataset_spec
    from imbalanced_contrastive.losses import loss_parameters
    from imbalanced_contrastive.training.profiles import profile_settings
    from imbalanced_contrastive.training.recipes import recipe_of

    recipe = recipe_of(method)
    dataset_spec(dataset)
    values: dict[str, Any] = {"method": method, "profile": profile, "dataset": dataset}
    settings = profile_settings(profile, method, dataset)
    loss_params = {**recipe.methods[method], **settings.pop("loss_params", {})}
    values.update(settings)
    allowed_loss = loss_parameters(method)
    for key, value in overrides.items():
        if key == "loss_params":
            if not isinstance(value, dict):
                raise ValueError(f"loss_params must be a dict of loss parameters; got {value!r}")
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


def _check_int(config: ExperimentConfig, name: str, low: int, optional: bool = False) -> None:
    value = getattr(config, name)
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}{' or None' if optional else ''}; got {value!r}")


def _check_number(
    config: ExperimentConfig, name: str, low: float, strict: bool = False, optional: bool = False
) -> None:
    value = getattr(config, name)
    if optional and value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        bound = f"> {low}" if strict else f">= {low}"
        raise ValueError(f"{name} must be a finite number {bound}{' or None' if optional else ''}; got {value!r}")


def _check_int_list(config: ExperimentConfig, name: str) -> None:
    value = getattr(config, name)
    if not isinstance(value, list) or any(not isinstance(v, int) or isinstance(v, bool) for v in value):
        raise ValueError(f"{name} must be a list of integers; got {value!r}")


def _check_types(config: ExperimentConfig) -> None:
    """Every field has the type its schema says (numbers, flags, lists, texts), so that a value
    typed on the command line fails here, by name, and not inside the training."""
    for name in ("device", "dataset", "imbalance", "augmentation", "encoder", "schedule", "stage2_loss"):
        if not isinstance(getattr(config, name), str):
            raise ValueError(f"{name} must be a string; got {getattr(config, name)!r}")
    if config.data_dir is not None and not isinstance(config.data_dir, (str, os.PathLike)):
        raise ValueError(f"data_dir must be a folder path or None; got {config.data_dir!r}")
    for name in ("download", "amp", "pretrained", "deterministic", "sync_batchnorm"):
        if not isinstance(getattr(config, name), bool):
            raise ValueError(f"{name} must be True or False; got {getattr(config, name)!r}")
    _check_int(config, "seed", 0)
    for name in (
        "epochs",
        "classifier_epochs",
        "embed_points",
        "queue_per_class",
        "embedding_dim",
        "encoder_width",
        "head_hidden_dim",
        "many_threshold",
        "few_threshold",
    ):
        _check_int(config, name, 1)
    _check_int(config, "batch_size", 2)
    _check_int(config, "warmup_epochs", 0)
    _check_int(config, "image_size", 8)
    for name in ("train_per_class", "test_per_class", "eval_every"):
        _check_int(config, name, 1, optional=True)
    for name in ("lr", "classifier_lr"):
        _check_number(config, name, 0.0, strict=True)
    for name in ("momentum", "weight_decay", "stage2_gamma", "ce_weight"):
        _check_number(config, name, 0.0)
    _check_number(config, "contrastive_weight", 0.0, optional=True)
    _check_number(config, "ratio", 1.0)
    _check_int_list(config, "minority_classes")
    _check_int_list(config, "milestones")
    if not isinstance(config.loss_params, dict):
        raise ValueError(f"loss_params must be a dict of loss parameters; got {config.loss_params!r}")


def validate_config(config: ExperimentConfig) -> None:
    """Check a config before any data is loaded or any model is trained."""
    from imbalanced_contrastive.data.catalogue import dataset_spec
    from imbalanced_contrastive.data.splits import IMBALANCE_SHAPES
    from imbalanced_contrastive.data.views import named_augmentation
    from imbalanced_contrastive.losses import get_loss, loss_parameters
    from imbalanced_contrastive.models.encoders import ENCODERS
    from imbalanced_contrastive.training.device import select_device
    from imbalanced_contrastive.training.profiles import check_profile
    from imbalanced_contrastive.training.recipes import recipe_of

    recipe = recipe_of(config.method)
    check_profile(config.profile)
    spec = dataset_spec(config.dataset)
    _check_types(config)
    select_device(config.device)  # an unknown or unavailable device fails now, not after the data are loaded
    if config.pretrained and config.encoder not in PRETRAINED_ENCODERS:
        raise ValueError(
            f"pretrained=True needs an encoder with published weights {PRETRAINED_ENCODERS}; "
            f"got encoder={config.encoder!r}"
        )
    if config.imbalance not in IMBALANCE_SHAPES:
        raise ValueError(f"imbalance must be one of {IMBALANCE_SHAPES}; got {config.imbalance!r}")
    if config.encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}; got {config.encoder!r}")
    named_augmentation(config.augmentation, config.dataset)  # an unknown name fails here, listing the known ones
    if config.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {config.schedule!r}")
    if config.stage2_loss not in STAGE2_LOSSES:
        raise ValueError(f"stage2_loss must be one of {STAGE2_LOSSES}; got {config.stage2_loss!r}")
    if config.warmup_epochs < 0 or (config.warmup_epochs > 0 and config.warmup_epochs >= config.epochs):
        raise ValueError(
            f"warmup_epochs must be in [0, epochs); got {config.warmup_epochs} with epochs={config.epochs}"
        )
    if config.schedule == "step" and not config.milestones:
        raise ValueError("schedule='step' needs milestones (epochs at which the lr is divided by 10)")
    if config.imbalance == "none" and (config.ratio != 1.0 or config.minority_classes):
        raise ValueError("imbalance='none' needs ratio=1.0 and minority_classes=[]")
    if config.imbalance == "step" and not config.minority_classes:
        raise ValueError("imbalance='step' needs minority_classes")
    if config.imbalance == "long_tail" and config.minority_classes:
        raise ValueError("imbalance='long_tail' takes no minority_classes (set minority_classes=[])")
    bad = [k for k in config.minority_classes if not 0 <= int(k) < spec.num_classes]
    if bad:
        raise ValueError(f"minority_classes {bad} are outside [0, {spec.num_classes - 1}] for {config.dataset}")
    # the loss and its parameters (dummy class counts where the loss needs them)
    params = dict(config.loss_params)
    if "class_counts" in loss_parameters(config.loss):
        params["class_counts"] = [10] * spec.num_classes
    get_loss(config.loss, **params)
    recipe.validate(config, spec.num_classes)


def overrides_from(**settings: Any) -> dict[str, Any]:
    """The settings that are not ``None`` (notebook parameters left at ``None`` keep the profile's value)."""
    return {k: v for k, v in settings.items() if v is not None}
