"""The training loop shared by every recipe.

A *task* (:mod:`imbalanced_contrastive.training.tasks`) is an ``nn.Module`` with

* ``forward(views, labels) -> dict`` where ``views`` is ``[B, V, C, H, W]`` and the dict
  holds a scalar ``"loss"`` (plus any scalars worth logging);
* optionally ``predict(x) -> logits`` (``[B, C, H, W]`` -> ``[B, num_classes]``): when present,
  the test set is evaluated during training.

Under ``torchrun`` the task is wrapped in ``DistributedDataParallel``; the batch order and the
views are drawn for the whole global batch and each rank trains on its contiguous slice of it, so
the summed gradients equal those of the single-process run of the same global batch; the epoch
loss is averaged over ranks, rank 0 alone decides whether a checkpoint can be resumed, and only
rank 0 writes checkpoints.

The loop keeps the training images on the device and draws batches and views from CPU generators
seeded by ``(seed, epoch)`` (the same seed gives the same batches and views on every device); the
global torch RNG is reseeded at every epoch start. With the checkpoint written at the end of every
epoch (model, optimiser, scheduler, history), a run that is killed and resumed gives exactly the
same result as an uninterrupted one: always on the CPU, and on CUDA with ``deterministic``
(:func:`~imbalanced_contrastive.training.device.configure_determinism`).

**No host synchronisation inside an epoch.** An epoch's batch order and view parameters are copied
to the device in one transfer at its start; logged scalars and the loss's finiteness are
accumulated on the device and read back once, at its end, before the checkpoint is written (a
non-finite loss then raises ``FloatingPointError`` naming the epoch and its first bad step,
without a device-side assertion, so a CUDA context survives); a progress bar reads the running
loss only every :data:`PROGRESS_EVERY` steps. On CUDA the optimiser is the fused SGD, to which
the gradient scaler hands its overflow flag without reading it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from imbalanced_contrastive.data.dataset import DataSplits
from imbalanced_contrastive.data.views import VIEW_PARAMETERS, BatchAugment, apply_views, to_float
from imbalanced_contrastive.evaluation import classification_metrics, map_dataset
from imbalanced_contrastive.training.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from imbalanced_contrastive.training.device import (
    autocast,
    choose_precision,
    derive_seed,
    grad_scaler,
    progress_enabled,
    to_device,
)
from imbalanced_contrastive.training.distributed import (
    DistInfo,
    broadcast_from_main,
    min_across_ranks,
    sum_across_ranks,
)

PROGRESS_EVERY = 25
"""A progress bar reads the running loss (one host synchronisation) every this many steps."""


@dataclass
class LoopConfig:
    """Schedule of one training stage.

    Attributes:
        epochs: number of epochs (>= 1).
        batch_size: samples per step (>= 2; contrastive losses need pairs).
        seed: seeds batch order, views and the global RNG at every epoch.
        n_views: augmented views per sample given to the task.
        amp: mixed precision where the device supports it (see
            :func:`~imbalanced_contrastive.training.device.choose_precision`: bf16 on CUDA
            capability >= 8.0, fp16 with gradient scaling on older GPUs, none on the CPU).
        eval_every: evaluate on the test set every this many epochs (and at the end); ``None``:
            never (the caller evaluates the trained model once).
        progress: show tqdm progress bars (see
            :func:`~imbalanced_contrastive.training.device.progress_mode`).
        sync_batchnorm: under ``torchrun``, convert BatchNorm layers to ``SyncBatchNorm`` so that
            their statistics are those of the global batch (off by default, as in the papers' code).
    """

    epochs: int
    batch_size: int
    seed: int = 0
    n_views: int = 1
    amp: bool = True
    eval_every: int | None = 1
    progress: bool = True
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1; got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2; got {self.batch_size}")
        if self.n_views < 1:
            raise ValueError(f"n_views must be >= 1; got {self.n_views}")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1; got {self.eval_every}")


def fixed_batches(n: int, batch_size: int, seed: int, epoch: int, drop_last: bool = True) -> list[torch.Tensor]:
    """The shuffled index batches of one epoch, a pure function of ``(seed, epoch)``.

    Deriving the order from ``(seed, epoch)`` alone is what makes resuming a run exact.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=g)
    batches = list(order.split(batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size and len(batches) > 1:
        batches = batches[:-1]
    return batches


@dataclass
class EpochPlan:
    """Everything random about one epoch, on the device: what :func:`fit` reads at each step.

    Attributes:
        order: the epoch's sample indices, batch after batch. Shape: ``[S]`` (``S`` samples seen).
        params: the view draws of every sample seen (:meth:`BatchAugment.draw`), or ``None``
            without augmentation. Shape: ``[n_views, 6, S]``.
        bounds: ``(start, stop)`` of each global batch in ``order``.
    """

    order: torch.Tensor
    params: torch.Tensor | None
    bounds: list[tuple[int, int]]

    def batch(self, step: int, dist_info: DistInfo) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's indices and view draws of global batch ``step`` (its contiguous slice)."""
        start, stop = self.bounds[step]
        if dist_info.enabled:
            share = (stop - start) // dist_info.world_size
            start, stop = start + dist_info.rank * share, start + (dist_info.rank + 1) * share
        params = None if self.params is None else self.params[:, :, start:stop]
        return self.order[start:stop], params


def plan_epoch(n: int, config: LoopConfig, epoch: int, augment: BatchAugment | None, device: torch.device) -> EpochPlan:
    """Draw one epoch's batches and views on the CPU (seeded by ``(seed, epoch)``) and copy them
    to ``device`` in one transfer each.

    The view numbers are drawn batch after batch and view after view, for the whole global batch,
    in the order the loop used to draw them one view at a time; so the same seed gives the same
    views on every device and for every world size.
    """
    batches = fixed_batches(n, config.batch_size, config.seed, epoch)
    bounds, start = [], 0
    for idx in batches:
        bounds.append((start, start + len(idx)))
        start += len(idx)
    order = torch.cat(batches)
    params = None
    if augment is not None:
        view_gen = torch.Generator().manual_seed(derive_seed(config.seed, epoch, 2))
        draws = [torch.stack([augment.draw(len(idx), view_gen) for _ in range(config.n_views)]) for idx in batches]
        params = torch.cat(draws, dim=2)  # [V, 6, S]
        assert params.shape[1] == len(VIEW_PARAMETERS)
    return EpochPlan(to_device(order, device), None if params is None else to_device(params, device), bounds)


def step_inputs(
    plan: EpochPlan,
    step: int,
    dist_info: DistInfo,
    images: torch.Tensor,
    labels: torch.Tensor,
    dataset: str,
    augment: BatchAugment | None,
    n_views: int,
    precomputed: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The views ``[b, V, C, H, W]`` and labels ``[b]`` of this rank's share of batch ``step``, made
    on the images' device from the plan (``precomputed``: ``images`` are inputs used as they are)."""
    idx, params = plan.batch(step, dist_info)
    x = images[idx] if precomputed else to_float(images[idx], dataset)
    return apply_views(x, augment, params, n_views), labels[idx]


def training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    views: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    precision: str,
) -> dict[str, torch.Tensor]:
    """One optimisation step: the forward pass under ``precision``'s autocast, the scaled backward
    pass and the optimiser step. Reads nothing back to the host. Returns the task's outputs."""
    with autocast(device, precision):
        out = model(views, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(out["loss"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return out


class EpochStats:
    """An epoch's running sums of the logged scalars and the loss's finiteness, kept on the device.

    :meth:`add` records a step without any host synchronisation; :meth:`read` is the epoch's one
    read-back (one copy to the host; an all-reduce over ranks first).
    """

    def __init__(self, steps: int, device: torch.device) -> None:
        self.steps, self.device = steps, device
        self.keys: list[str] = []
        self.sums: torch.Tensor | None = None  # float64 [number of logged scalars]
        self.n_bad = torch.zeros((), dtype=torch.long, device=device)  # steps with a non-finite loss
        self.first_bad = torch.full((), steps, dtype=torch.long, device=device)  # the first of them

    def add(self, step: int, out: dict[str, torch.Tensor]) -> None:
        logged = torch.stack([v.detach().float().reshape(()) for v in out.values()])
        if self.sums is None:
            self.keys, self.sums = list(out), torch.zeros_like(logged, dtype=torch.float64)
        self.sums += logged
        finite = torch.isfinite(out["loss"].detach())
        self.first_bad = torch.where(finite | (self.n_bad > 0), self.first_bad, step)
        self.n_bad = self.n_bad + (~finite).long()

    def running_loss(self, step: int) -> float:
        """The mean loss so far (reads it: one synchronisation; for a progress bar now and then)."""
        return float(self.sums[0]) / (step + 1) if self.sums is not None else math.nan

    def read(self, dist_info: DistInfo, epoch: int) -> dict:
        """The epoch's mean logged scalars (over steps and ranks).

        Raises:
            FloatingPointError: some step's loss was non-finite (naming the epoch, 1-based as
                ``epoch + 1``, how many steps and the first).
        """
        sums = self.sums if self.sums is not None else torch.zeros(0, dtype=torch.float64, device=self.device)
        sums = sum_across_ranks(sums)
        bad = torch.stack([sum_across_ranks(self.n_bad), min_across_ranks(self.first_bad)]).to(sums.dtype)
        values = torch.cat([sums, bad]).tolist()
        if values[-2] > 0:
            raise FloatingPointError(
                f"training diverged at epoch {epoch + 1}: the loss is non-finite at {int(values[-2])} of {self.steps} "
                f"steps, first at step {int(values[-1]) + 1}; lower the learning rate"
            )
        return {k: v / (max(1, self.steps) * dist_info.world_size) for k, v in zip(self.keys, values[:-2], strict=True)}


def evaluate(
    task: nn.Module, splits: DataSplits, device: torch.device, batch_size: int = 512, precision: str = "fp32"
) -> dict:
    """Test-set metrics of ``task.predict`` (one pass, one copy of the logits to the host)."""
    was_training = task.training
    task.eval()
    logits = map_dataset(task.predict, splits.test, device, batch_size, precision=precision)
    task.train(was_training)
    return classification_metrics(logits.argmax(dim=1), splits.test.labels, splits.num_classes, splits.groups)


def _resume_state(checkpoint_dir: str | Path, device: torch.device, dist_info: DistInfo) -> dict | None:
    """The checkpoint to resume from, or ``None``. Under ``torchrun`` rank 0 alone reads it first
    (and moves an unreadable one aside); the other ranks follow its decision."""
    if not dist_info.enabled:
        return load_checkpoint(checkpoint_dir, map_location=device)
    state = load_checkpoint(checkpoint_dir, map_location=device) if dist_info.is_main else None
    if not broadcast_from_main(state is not None):
        return None
    if dist_info.is_main:
        return state
    return torch.load(Path(checkpoint_dir) / CHECKPOINT_FILE, map_location=device, weights_only=True)


def fit(
    task: nn.Module,
    splits: DataSplits,
    optimizer: torch.optim.Optimizer,
    config: LoopConfig,
    device: torch.device,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    augment: BatchAugment | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    desc: str = "train",
    dist_info: DistInfo | None = None,
    inputs: torch.Tensor | None = None,
    precision: str | None = None,
) -> list[dict]:
    """Train ``task`` and return the per-epoch history.

    Args:
        task: the module to train (see the module docstring), already on ``device``.
        splits: the data; training images are moved to ``device`` once.
        optimizer: optimises the task's trainable parameters.
        config: the schedule.
        scheduler: stepped once per epoch.
        augment: view augmentation (``None`` repeats the image for every view).
        checkpoint_dir: where to write ``checkpoint.pt`` after every epoch; ``None`` disables it.
        resume: continue from the checkpoint in ``checkpoint_dir`` when there is one.
        on_epoch_end: called with ``(epoch, metrics)`` after each epoch's checkpoint is written.
        dist_info: rank and world size under ``torchrun`` (``None``: a single process).
        inputs: precomputed training inputs ``[N, ...]`` used instead of the training images (no
            standardisation or augmentation; e.g. frozen-encoder features for a linear probe).
        precision: ``"bf16"``, ``"fp16"`` or ``"fp32"``; ``None`` chooses by the device
            (:func:`~imbalanced_contrastive.training.device.choose_precision` with ``config.amp``).

    Returns:
        One dict per epoch: ``epoch``, mean ``loss`` (and other logged scalars), ``lr``, ``time_s``
        and, on evaluation epochs, ``test_accuracy`` and ``test_balanced_accuracy``.

    Raises:
        FloatingPointError: the loss became non-finite (reported with the epoch and its first bad
            step, at the end of that epoch and before its checkpoint is written).
        ValueError: under ``torchrun``, a batch size the world size does not divide, a training
            set smaller than one global batch (the shards would be uneven), or ``sync_batchnorm``
            off CUDA.
    """
    dist_info = dist_info or DistInfo()
    n = len(splits.train) if inputs is None else len(inputs)
    if dist_info.enabled and config.batch_size % dist_info.world_size:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the world size {dist_info.world_size}")
    if dist_info.enabled and config.sync_batchnorm and device.type != "cuda":
        raise ValueError(
            "sync_batchnorm=True needs CUDA devices (PyTorch's SyncBatchNorm has no CPU kernel); "
            f"got device {device}: set sync_batchnorm=False"
        )
    if dist_info.enabled and n < config.batch_size:
        raise ValueError(
            f"under torchrun the training set ({n} samples) must hold at least one global batch "
            f"(batch_size {config.batch_size}), so that every rank gets an equal shard; "
            "lower batch_size or run on one process"
        )
    history: list[dict] = []
    start_epoch = 0
    precision = precision or choose_precision(device, config.amp)
    scaler = grad_scaler(device, precision)
    if checkpoint_dir is not None and resume:
        state = _resume_state(checkpoint_dir, device, dist_info)
        if state is not None:
            task.load_state_dict(state["task"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler") is not None:
                scaler.load_state_dict(state["scaler"])
            history = list(state["history"])
            start_epoch = int(state["epoch"]) + 1
    images = to_device(inputs, device) if inputs is not None else splits.train.on(device)
    labels = to_device(splits.train.labels, device)
    if len(images) != len(labels):
        raise ValueError(f"inputs must have one row per training image ({len(labels)}); got {len(images)}")
    show = progress_enabled(config.progress) and dist_info.is_main
    model: nn.Module = task
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        if config.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(task)
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    can_evaluate = hasattr(task, "predict")
    task.train()
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(derive_seed(config.seed, epoch, 1))
        plan = plan_epoch(n, config, epoch, augment if inputs is None else None, device)
        steps = len(plan.bounds)
        stats = EpochStats(steps, device)
        bar = tqdm(range(steps), desc=f"{desc} {epoch + 1}/{config.epochs}", disable=not show, leave=False)
        for step in bar:
            views, batch_labels = step_inputs(
                plan,
                step,
                dist_info,
                images,
                labels,
                splits.train.name,
                augment if inputs is None else None,
                config.n_views,
                inputs is not None,
            )
            try:
                out = training_step(model, optimizer, scaler, views, batch_labels, device, precision)
            except ValueError as err:
                if "NaN or infinite" not in str(err):
                    raise
                # the inputs are finite images, so non-finite features mean the training diverged
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1}, step {step + 1}: the model produced non-finite "
                    f"values ({err}); lower the learning rate"
                ) from err
            stats.add(step, out)
            if show and (step + 1) % PROGRESS_EVERY == 0:
                bar.set_postfix(loss=f"{stats.running_loss(step):.4f}")
        metrics = stats.read(dist_info, epoch)  # the epoch's one read-back; raises on divergence
        metrics.update(epoch=epoch + 1, lr=optimizer.param_groups[0]["lr"])
        if scheduler is not None:
            scheduler.step()
        if (
            can_evaluate
            and config.eval_every is not None
            and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs)
        ):
            test = evaluate(task, splits, device, precision=precision)
            metrics.update(test_accuracy=test["accuracy"], test_balanced_accuracy=test["balanced_accuracy"])
            task.train()
        metrics["time_s"] = time.perf_counter() - t0
        history.append(metrics)
        if checkpoint_dir is not None and dist_info.is_main:
            save_checkpoint(
                {
                    "task": task.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                    "history": history,
                    "epoch": epoch,
                },
                checkpoint_dir,
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, metrics)
        if show:
            acc = metrics.get("test_balanced_accuracy", math.nan)
            tqdm.write(
                f"{desc} epoch {epoch + 1}/{config.epochs}: loss {metrics.get('loss', math.nan):.4f}"
                + (f", test balanced acc {acc:.4f}" if "test_balanced_accuracy" in metrics else "")
            )
    return history
