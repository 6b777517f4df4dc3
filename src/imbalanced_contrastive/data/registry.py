"""One entry point for every dataset: source -> optional subset -> imbalance profile -> splits."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset
from imbalanced_contrastive.data.imbalance import long_tail_counts, step_counts, subsample_indices

DATASETS = ("fmnist", "cifar10", "cifar100", "dermamnist", "isic2018")
IMBALANCE_PROFILES = ("none", "step", "long_tail")


def load_source(
    name: str, data_dir: str | Path | None = None, download: bool = False, image_size: int = 64
) -> tuple[ImageArrayDataset, ImageArrayDataset]:
    """The balanced (or naturally imbalanced) train/test sets of a dataset, as in-memory tensors.

    Args:
        name: one of :data:`DATASETS`.
        data_dir: local directory tried first.
        download: allow a download where the internet is reachable.
        image_size: side to which ISIC 2018 images are resized (other datasets keep their size).
    """
    if name == "fmnist":
        from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist

        return load_fashion_mnist(data_dir, download=download)
    if name in ("cifar10", "cifar100"):
        from imbalanced_contrastive.data.cifar import load_cifar

        return load_cifar(name, data_dir, download=download)
    if name == "dermamnist":
        from imbalanced_contrastive.data.dermamnist import load_dermamnist

        splits = load_dermamnist(data_dir, download=download)
        return splits["train"], splits["test"]
    if name == "isic2018":
        from imbalanced_contrastive.data.isic import load_isic2018

        if data_dir is None:
            raise FileNotFoundError("isic2018 needs data_dir: the directory with the extracted official archives")
        # The official Task 3 test ground truth is distributed separately; the validation split is
        # used as the held-out set when the test CSV is absent.
        root = Path(data_dir)
        held_out = "test" if (root / "ISIC2018_Task3_Test_GroundTruth.csv").exists() else "val"
        return (
            load_isic2018(root, "train").to_array(image_size),
            load_isic2018(root, held_out).to_array(image_size),
        )
    raise ValueError(f"dataset must be one of {DATASETS}; got {name!r}")


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
        dataset: one of :data:`DATASETS`.
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
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {dataset!r}")
    if imbalance not in IMBALANCE_PROFILES:
        raise ValueError(f"imbalance must be one of {IMBALANCE_PROFILES}; got {imbalance!r}")
    if imbalance == "none" and (ratio != 1.0 or len(minority_classes)):
        raise ValueError("imbalance='none' takes no ratio or minority_classes; choose 'step' or 'long_tail'")
    if imbalance == "long_tail" and len(minority_classes):
        raise ValueError("minority_classes applies to imbalance='step' only")
    train, test = load_source(dataset, data_dir, download, image_size)
    train = _cap_per_class(train, train_per_class, seed)
    test = _cap_per_class(test, test_per_class, seed + 1)
    counts = [int(n) for n in train.class_counts()]
    if imbalance == "step":
        target = step_counts(counts, minority_classes, ratio)
    elif imbalance == "long_tail":
        target = long_tail_counts(max(counts), len(counts), ratio)
        short = [c for c, (want, have) in enumerate(zip(target, counts)) if want > have]
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
