"""The training loop shared by every recipe.

A *task* (:mod:`imbalanced_contrastive.training.tasks`) is an ``nn.Module`` with

* ``forward(views, labels) -> dict`` where ``views`` is ``[B, V, C, H, W]`` and the dict
  holds a scalar ``"loss"`` (plus any scalars worth logging);
* optionally ``predict(x) -> logits`` (``[B, C, H, W]`` -> ``[B, num_classes]``): when present,
  the test set is evaluated during training.

Under ``torchrun`` the task is wrapped in ``DistributedDataParallel``; each rank trains on its
contiguous slice of every global batch, the epoch loss is averaged over ranks and only rank 0
writes checkpoints.

The loop keeps the training images on the device and draws batches and views from generators
seeded by ``(seed, epoch)``; the global torch RNG is reseeded at every epoch start. With the
checkpoint written at the end of every epoch (model, optimiser, scheduler, history), a run that is
killed and resumed gives exactly the same result as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from imbalanced_contrastive.data.dataset import DataSplits
from imbalanced_contrastive.data.views import BatchAugment, make_views, to_float
from imbalanced_contrastive.evaluation import classification_metrics, map_dataset
from imbalanced_contrastive.training.checkpoint import load_checkpoint, save_checkpoint
from imbalanced_contrastive.training.device import autocast, choose_precision, derive_seed, grad_scaler, progress_enabled
from imbalanced_contrastive.training.distributed import DistInfo, mean_across_ranks


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
    """

    epochs: int
    batch_size: int
    seed: int = 0
    n_views: int = 1
    amp: bool = True
    eval_every: int | None = 1
    progress: bool = True

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


def evaluate(task: nn.Module, splits: DataSplits, device: torch.device, batch_size: int = 512) -> dict:
    """Test-set metrics of ``task.predict``."""
    was_training = task.training
    task.eval()
    logits = map_dataset(task.predict, splits.test, device, batch_size)
    task.train(was_training)
    return classification_metrics(logits.argmax(dim=1), splits.test.labels, splits.num_classes, splits.groups)


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

    Returns:
        One dict per epoch: ``epoch``, mean ``loss`` (and other logged scalars), ``lr``, ``time_s``
        and, on evaluation epochs, ``test_accuracy`` and ``test_balanced_accuracy``.

    Raises:
        FloatingPointError: the loss became non-finite (reported with the epoch and step).
    """
    dist_info = dist_info or DistInfo()
    if dist_info.enabled and config.batch_size % dist_info.world_size:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the world size {dist_info.world_size}")
    history: list[dict] = []
    start_epoch = 0
    precision = choose_precision(device, config.amp)
    scaler = grad_scaler(device, precision)
    if checkpoint_dir is not None and resume:
        state = load_checkpoint(checkpoint_dir, map_location=device)
        if state is not None:
            task.load_state_dict(state["task"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler") is not None:
                scaler.load_state_dict(state["scaler"])
            history = list(state["history"])
            start_epoch = int(state["epoch"]) + 1
    images = (inputs if inputs is not None else splits.train.images).to(device)
    labels = splits.train.labels.to(device)
    if len(images) != len(labels):
        raise ValueError(f"inputs must have one row per training image ({len(labels)}); got {len(images)}")
    show = progress_enabled(config.progress) and dist_info.is_main
    model: nn.Module = task
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(task, device_ids=[device.index] if device.type == "cuda" else None)
    can_evaluate = hasattr(task, "predict")
    task.train()
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(derive_seed(config.seed, epoch, 1))
        view_gen = torch.Generator().manual_seed(derive_seed(config.seed, epoch, 2))
        batches = fixed_batches(len(labels), config.batch_size, config.seed, epoch)
        sums: dict[str, float] = {}
        bar = tqdm(batches, desc=f"{desc} {epoch + 1}/{config.epochs}", disable=not show, leave=False)
        for step, idx in enumerate(bar):
            if dist_info.enabled:
                idx = idx.chunk(dist_info.world_size)[dist_info.rank]
            idx = idx.to(device)
            x = images[idx] if inputs is not None else to_float(images[idx], splits.train.name)
            views = make_views(x, config.n_views, augment, view_gen)
            try:
                with autocast(device, precision):
                    out = model(views, labels[idx])
            except ValueError as err:
                if "NaN or infinite" not in str(err):
                    raise
                # the inputs are finite images, so non-finite features mean the training diverged
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1}, step {step + 1}: the model produced non-finite "
                    f"values ({err}); lower the learning rate"
                ) from err
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss {loss.item()} at epoch {epoch + 1}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            if show:
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        metrics = {k: mean_across_ranks(v / max(1, len(batches)), device) for k, v in sums.items()}
        metrics.update(epoch=epoch + 1, lr=optimizer.param_groups[0]["lr"])
        if scheduler is not None:
            scheduler.step()
        if can_evaluate and config.eval_every is not None and (
                (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs):
            test = evaluate(task, splits, device)
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
