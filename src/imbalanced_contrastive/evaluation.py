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
    members = None if groups is None else {g: groups.members(g) for g in GROUP_NAMES}
    return metrics_from_confusion(cm, members)


def metrics_from_confusion(confusion: torch.Tensor, members: dict[str, list[int]] | None = None) -> dict:
    """The metrics of :func:`classification_metrics` from the confusion matrix alone (a record
    keeps it, so anyone can recompute what the record states: ``python -m imbalanced_contrastive
    audit``).

    Args:
        confusion: counts ``M[true, predicted]``, shape ``[C, C]``.
        members: the classes of each group (``many``, ``medium``, ``few``), or ``None``.
    """
    cm = torch.as_tensor(confusion)
    per_class = per_class_accuracy(cm)
    present = [a for a in per_class if a is not None]
    out = {
        "accuracy": float(cm.diag().sum() / cm.sum()) if cm.sum() > 0 else float("nan"),
        "balanced_accuracy": sum(present) / len(present) if present else float("nan"),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
    if members is not None:
        for g in GROUP_NAMES:
            accs = [per_class[c] for c in members.get(g, []) if per_class[c] is not None]
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


def knn_correct(embeddings: torch.Tensor, labels: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Leave-one-out k-nearest-neighbour classification of an embedding sample (cosine similarity,
    majority vote, ties to the nearest): how well a frozen encoder separates the classes, without
    any classifier.

    Args:
        embeddings: Shape: ``[M, D]``.
        labels: ``int64``. Shape: ``[M]``.
        k: neighbours (``1 <= k < M``).

    Returns:
        ``bool``, whether each point's neighbours vote for its class. Shape: ``[M]``.
    """
    x = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1)
    y = torch.as_tensor(labels, dtype=torch.long)
    if not 1 <= k < len(y):
        raise ValueError(f"k must be in [1, {len(y) - 1}] for {len(y)} points; got {k}")
    sim = x @ x.T
    sim.fill_diagonal_(-float("inf"))
    nn_idx = sim.topk(k, dim=1).indices
    votes = torch.zeros(len(y), int(y.max()) + 1).scatter_add_(
        1, y[nn_idx], torch.linspace(1.0, 0.99, k).expand(len(y), k)
    )
    return votes.argmax(1) == y


def knn_by_group(record, k: int = 10) -> dict[str, float | None]:
    """Mean per-class k-NN recall (:func:`knn_correct`) of a record's embedding sample, over all
    classes and per many / medium / few group (``None`` for an empty group)."""
    labels = torch.as_tensor(record.embedding_labels, dtype=torch.long)
    correct = knn_correct(torch.as_tensor(record.embeddings, dtype=torch.float32), labels, k).float()
    recall = {int(c): float(correct[labels == c].mean()) for c in labels.unique()}
    out: dict[str, float | None] = {"all": sum(recall.values()) / len(recall)}
    for g in GROUP_NAMES:
        members = [recall[c] for c in record.metrics["groups"].get(g, []) if c in recall]
        out[g] = sum(members) / len(members) if members else None
    return out


def class_mean_cosines(embeddings: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cosine similarity between the *centred* class means of unit-normalised embeddings: each
    class's mean minus the average of the class means (so non-negative ReLU features compare too).
    BCL's argument: a balanced representation puts the centred means on a regular simplex, every
    off-diagonal entry ``-1 / (C - 1)``; classes that crowd together have larger cosines.

    Returns:
        Shape: ``[C, C]`` (``nan`` rows and columns for classes absent from the sample).
    """
    x = torch.nn.functional.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1)
    y = torch.as_tensor(labels, dtype=torch.long)
    means = torch.full((num_classes, x.shape[1]), float("nan"))
    for c in range(num_classes):
        if (y == c).any():
            means[c] = x[y == c].mean(0)
    present = ~means[:, 0].isnan()
    means[present] -= means[present].mean(0)
    means = torch.nn.functional.normalize(means, dim=1)
    return means @ means.T
