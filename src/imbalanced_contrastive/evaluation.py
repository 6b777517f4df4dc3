"""Metrics of the papers: accuracy ("weighted accuracy" in the ACL paper), balanced accuracy
(mean per-class recall, their "unweighted accuracy"), per-class and many/medium/few accuracy,
the confusion matrix, and embedding extraction."""

from __future__ import annotations

from collections.abc import Callable

import torch

from imbalanced_contrastive.data.dataset import ImageArrayDataset
from imbalanced_contrastive.data.imbalance import GROUP_NAMES, ClassGroups
from imbalanced_contrastive.data.views import to_float


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``M[true, predicted]``. Shape: ``[num_classes, num_classes]`` (``int64``)."""
    if preds.shape != labels.shape or preds.dim() != 1:
        raise ValueError(
            f"preds and labels must be 1-D of equal length; got {tuple(preds.shape)}, {tuple(labels.shape)}"
        )
    idx = labels.long() * num_classes + preds.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """Recall of each class; ``None`` for a class absent from the evaluation set."""
    support = confusion.sum(dim=1)
    return [float(confusion[c, c] / support[c]) if support[c] > 0 else None for c in range(confusion.shape[0])]


def classification_metrics(
    preds: torch.Tensor, labels: torch.Tensor, num_classes: int, groups: ClassGroups | None = None
) -> dict:
    """All metrics of a prediction.

    Returns:
        ``accuracy``, ``balanced_accuracy`` (mean recall over the classes present), ``per_class``
        accuracy, ``many``/``medium``/``few`` accuracy (mean recall over the group's classes;
        ``None`` for an empty group) when ``groups`` is given, and the ``confusion`` matrix as lists.
    """
    cm = confusion_matrix(preds.cpu(), labels.cpu(), num_classes)
    per_class = per_class_accuracy(cm)
    present = [a for a in per_class if a is not None]
    out = {
        "accuracy": float(cm.diag().sum() / cm.sum()) if cm.sum() > 0 else float("nan"),
        "balanced_accuracy": sum(present) / len(present) if present else float("nan"),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
    if groups is not None:
        for g in GROUP_NAMES:
            accs = [per_class[c] for c in groups.members(g) if per_class[c] is not None]
            out[g] = sum(accs) / len(accs) if accs else None
    return out


def map_dataset(
    fn: Callable[[torch.Tensor], torch.Tensor],
    data: ImageArrayDataset,
    device: torch.device,
    batch_size: int = 512,
    precision: str = "fp32",
    to_host: bool = True,
) -> torch.Tensor:
    """Apply ``fn`` to standardised batches of ``data`` on ``device`` and concatenate the outputs.

    The images go to the device once per dataset and device (:meth:`ImageArrayDataset.on`); the
    batches run under ``torch.inference_mode`` and the autocast of ``precision``; the outputs
    (float32) come back to the host in one copy (``to_host``), or stay on the device.

    Returns:
        ``[len(data), ...]``: ``fn``'s outputs in float32, a normal (not an inference) tensor.
    """
    from imbalanced_contrastive.training.device import autocast

    images = data.on(device)
    outs = []
    with torch.inference_mode(), autocast(device, precision):
        for start in range(0, len(data), batch_size):
            outs.append(fn(to_float(images[start : start + batch_size], data.name)).float())
    if not outs:
        return torch.empty(0)
    out = torch.cat(outs)  # outside inference mode: a tensor autograd may use (stage 2's inputs)
    return out.cpu() if to_host else out


def sample_indices(n: int, max_points: int, seed: int = 0) -> torch.Tensor:
    """A seeded sample of ``min(n, max_points)`` row indices of a dataset of ``n`` rows, sorted.

    Returns:
        ``int64`` tensor. Shape: ``[min(n, max_points)]``.
    """
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:max_points].sort().values


def sample_embeddings(
    embed: Callable[[torch.Tensor], torch.Tensor],
    data: ImageArrayDataset,
    device: torch.device,
    max_points: int = 2000,
    seed: int = 0,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, fixed-size sample of embeddings with their labels (for UMAP figures); the rows are
    ``data``'s rows :func:`sample_indices` ``(len(data), max_points, seed)``."""
    sub = data.subset(sample_indices(len(data), max_points, seed))
    return map_dataset(embed, sub, device, precision=precision), sub.labels.clone()
