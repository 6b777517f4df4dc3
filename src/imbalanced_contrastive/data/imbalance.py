"""Imbalance shapes and many/medium/few class groups.

Two shapes are used by the three papers:

* **step** (ACL paper, imbalanced Fashion-MNIST): a chosen set of *minority* classes is subsampled
  so that ``n_majority / n_minority = ratio``; the other classes keep every sample. The paper's
  exact classes and ratios were not recoverable (``book/paper_specs.md``, ``spec-acl-data``), so both
  are parameters.
* **exponential long tail** (CIFAR-LT protocol of Cao et al. 2019, used by BCL/RCL/ResCom):
  class ``c`` keeps ``n_c = floor(n_max * IF ** (-c / (C - 1)))`` samples, where ``IF >= 1`` is
  the imbalance factor ``n_0 / n_{C-1}``.

Which samples are kept is decided by a seeded permutation, so a profile is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

GROUP_NAMES = ("many", "medium", "few")


def long_tail_counts(n_max: int, num_classes: int, imbalance_factor: float) -> list[int]:
    """Per-class counts of the exponential profile ``n_c = floor(n_max * IF^(-c/(C-1)))``.

    Args:
        n_max: samples kept for class 0 (the head class); must be >= 1.
        num_classes: number of classes ``C``; must be >= 2.
        imbalance_factor: ``IF = n_0 / n_{C-1} >= 1`` (CIFAR-LT uses 10, 50, 100).

    Returns:
        ``C`` non-increasing integer counts, the first equal to ``n_max``.

    Raises:
        ValueError: if an argument is outside the range above.
    """
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1; got {n_max}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 for a long-tailed profile; got {num_classes}")
    if not math.isfinite(imbalance_factor) or imbalance_factor < 1:
        raise ValueError(f"imbalance_factor must be a finite number >= 1 (n_head / n_tail); got {imbalance_factor}")
    return [
        max(1, int(math.floor(n_max * imbalance_factor ** (-c / (num_classes - 1)) + 1e-9))) for c in range(num_classes)
    ]


def step_counts(class_counts: Sequence[int], minority_classes: Sequence[int], ratio: float) -> list[int]:
    """Per-class counts of the step profile.

    Args:
        class_counts: available samples per class.
        minority_classes: indices of the classes to subsample (at least one, not all).
        ratio: ``n_majority / n_minority >= 1``; a minority class keeps
            ``max(1, floor(n_max / ratio))`` samples, where ``n_max`` is the largest count.

    Raises:
        ValueError: on an empty, out-of-range or complete minority set, or ``ratio < 1``.
    """
    num_classes = len(class_counts)
    minority = list(minority_classes)
    if not minority:
        raise ValueError("minority_classes must name at least one class")
    if len(set(minority)) == num_classes:
        raise ValueError("minority_classes must leave at least one majority class")
    bad = [c for c in minority if not 0 <= int(c) < num_classes]
    if bad:
        raise ValueError(f"minority_classes {bad} are outside [0, {num_classes - 1}]")
    if not math.isfinite(ratio) or ratio < 1:
        raise ValueError(f"ratio must be a finite number >= 1 (n_majority / n_minority); got {ratio}")
    n_max = max(int(n) for n in class_counts)
    keep = max(1, int(math.floor(n_max / ratio + 1e-9)))
    return [min(int(n), keep) if c in set(minority) else int(n) for c, n in enumerate(class_counts)]


def subsample_indices(labels: torch.Tensor, target_counts: Sequence[int], seed: int) -> torch.Tensor:
    """Indices that keep ``target_counts[c]`` samples of each class, chosen by a seeded permutation.

    Args:
        labels: class index of each sample. Shape: ``[N]``.
        target_counts: wanted samples per class; each must not exceed what is available.
        seed: seed of the permutation (numpy ``default_rng``).

    Returns:
        Sorted ``int64`` indices into ``labels``. Shape: ``[sum(target_counts)]``.
    """
    labels_np = labels.cpu().numpy()
    available = np.bincount(labels_np, minlength=len(target_counts))
    if len(available) > len(target_counts):
        raise ValueError(f"target_counts has {len(target_counts)} entries but labels reach class {len(available) - 1}")
    rng = np.random.default_rng(seed)
    kept = []
    for c, want in enumerate(target_counts):
        if want < 0 or want > available[c]:
            raise ValueError(f"class {c} has {available[c]} samples; cannot keep {want} (allowed 0..{available[c]})")
        idx = np.flatnonzero(labels_np == c)
        kept.append(rng.permutation(idx)[: int(want)])
    return torch.from_numpy(np.sort(np.concatenate(kept))).long()


@dataclass(frozen=True)
class ClassGroups:
    """Many/medium/few membership of each class, from training counts.

    Attributes:
        group_of_class: ``"many"``, ``"medium"`` or ``"few"`` for each class index.
        many_threshold: a class with more than this many training samples is "many".
        few_threshold: a class with fewer than this many training samples is "few".
    """

    group_of_class: tuple[str, ...]
    many_threshold: int
    few_threshold: int

    def members(self, group: str) -> list[int]:
        """Class indices in ``group`` (one of ``many``, ``medium``, ``few``)."""
        if group not in GROUP_NAMES:
            raise ValueError(f"group must be one of {GROUP_NAMES}; got {group!r}")
        return [c for c, g in enumerate(self.group_of_class) if g == group]

    def as_dict(self) -> dict[str, list[int]]:
        return {g: self.members(g) for g in GROUP_NAMES}


def split_groups(
    class_counts: torch.Tensor | Sequence[int], many_threshold: int = 100, few_threshold: int = 20
) -> ClassGroups:
    """Group classes into many (> ``many_threshold``), few (< ``few_threshold``) and medium.

    The defaults (100, 20) are the usual ImageNet-LT / CIFAR-LT convention (Liu et al. 2019).
    Smaller subsets (the ``quick`` profile) pass thresholds scaled to their size.
    """
    if few_threshold < 0 or many_threshold < few_threshold:
        raise ValueError(
            "thresholds must satisfy 0 <= few_threshold <= many_threshold; got "
            f"few_threshold={few_threshold}, many_threshold={many_threshold}"
        )
    counts = [int(n) for n in (class_counts.tolist() if torch.is_tensor(class_counts) else class_counts)]
    groups = tuple("many" if n > many_threshold else ("few" if n < few_threshold else "medium") for n in counts)
    return ClassGroups(groups, many_threshold, few_threshold)
