"""From a dataset to the splits a run trains on: source -> optional per-class cap -> imbalance shape."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imbalanced_contrastive.data import catalogue
from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset
from imbalanced_contrastive.data.imbalance import long_tail_counts, step_counts, subsample_indices

IMBALANCE_SHAPES = ("none", "step", "long_tail")
"""How the training set is made imbalanced (the ``imbalance`` setting)."""


def _cap_per_class(data: ImageArrayDataset, cap: int | None, seed: int) -> ImageArrayDataset:
    if cap is None:
        return data
    if cap < 1:
        raise ValueError(f"per-class cap must be >= 1 or None; got {cap}")
    counts = [min(int(n), cap) for n in data.class_counts()]
    return data.subset(subsample_indices(data.labels, counts, seed))


def build_splits(
    dataset: str,
    *,
    data_dir: str | Path | None = None,
    download: bool = False,
    imbalance: str = "none",
    ratio: float = 1.0,
    minority_classes: Sequence[int] = (),
    train_per_class: int | None = None,
    test_per_class: int | None = None,
    seed: int = 0,
    many_threshold: int = 100,
    few_threshold: int = 20,
    image_size: int = 64,
) -> DataSplits:
    """Load ``dataset`` and make it imbalanced.

    Args:
        dataset: a name of :data:`~imbalanced_contrastive.data.catalogue.CATALOGUE`.
        imbalance: ``"none"``, ``"step"`` (``minority_classes`` subsampled to ``n_max / ratio``,
            the ACL paper's setting) or ``"long_tail"`` (exponential profile with imbalance factor
            ``ratio``, the CIFAR-LT protocol).
        ratio: ``n_max / n_min >= 1``.
        minority_classes: the classes subsampled by the step profile.
        train_per_class / test_per_class: cap samples per class before the profile (``quick``
            profile subsets); ``None`` keeps everything.
        seed: seeds every subsampling permutation.
        many_threshold / few_threshold: many/medium/few group thresholds on training counts.

    Raises:
        ValueError: unknown dataset or profile, or profile parameters out of range.
    """
    catalogue.dataset_spec(dataset)
    if imbalance not in IMBALANCE_SHAPES:
        raise ValueError(f"imbalance must be one of {IMBALANCE_SHAPES}; got {imbalance!r}")
    if imbalance == "none" and (ratio != 1.0 or len(minority_classes)):
        raise ValueError("imbalance='none' takes no ratio or minority_classes; choose 'step' or 'long_tail'")
    if imbalance == "long_tail" and len(minority_classes):
        raise ValueError("minority_classes applies to imbalance='step' only")
    train, test = catalogue.load_source(dataset, data_dir, download, image_size)
    train = _cap_per_class(train, train_per_class, seed)
    test = _cap_per_class(test, test_per_class, seed + 1)
    counts = [int(n) for n in train.class_counts()]
    if imbalance == "step":
        target = step_counts(counts, minority_classes, ratio)
    elif imbalance == "long_tail":
        target = long_tail_counts(max(counts), len(counts), ratio)
        short = [c for c, (want, have) in enumerate(zip(target, counts, strict=True)) if want > have]
        if short:
            raise ValueError(
                f"classes {short} have fewer samples than the long-tail profile asks for; the profile "
                "needs a balanced source (or a smaller train_per_class)"
            )
    else:
        target = counts
    train = train.subset(subsample_indices(train.labels, target, seed))
    description = {
        "dataset": dataset,
        "imbalance": imbalance,
        "ratio": ratio,
        "minority_classes": [int(c) for c in minority_classes],
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "seed": seed,
        "train_counts": [int(n) for n in train.class_counts()],
        "test_counts": [int(n) for n in test.class_counts()],
    }
    return DataSplits(train, test, description, many_threshold, few_threshold)
