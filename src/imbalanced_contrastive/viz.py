"""Figures: sample grids, class-count bars, training curves (matplotlib + seaborn)."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.patches import Patch

from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset

GROUP_COLORS = {"many": "#1b9e77", "medium": "#d95f02", "few": "#7570b3"}


def plot_sample_grid(data: ImageArrayDataset, per_class: int = 8, seed: int = 0, ax_size: float = 0.9) -> plt.Figure:
    """A grid with one row per class and ``per_class`` random examples of it."""
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(
        data.num_classes, per_class, figsize=(per_class * ax_size, data.num_classes * ax_size), squeeze=False
    )
    for c in range(data.num_classes):
        idx = torch.nonzero(data.labels == c).flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:per_class]]
        for j in range(per_class):
            ax = axes[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(pick):
                img = data.images[pick[j]].permute(1, 2, 0).numpy()
                ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            if j == 0:
                ax.set_ylabel(data.classes[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{data.name}: {per_class} random training images per class")
    fig.tight_layout()
    return fig


def plot_class_counts(splits: DataSplits, log_scale: bool = False) -> plt.Figure:
    """Training samples per class, coloured by many/medium/few group."""
    counts = splits.class_counts.numpy()
    groups = splits.groups.group_of_class
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(counts)), 3.5))
    colors = [GROUP_COLORS[g] for g in groups]
    ax.bar(np.arange(len(counts)), counts, color=colors)
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xticklabels(splits.classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("training samples")
    if log_scale:
        ax.set_yscale("log")
    many, few = splits.groups.many_threshold, splits.groups.few_threshold
    rule = {"many": f"n > {many}", "medium": f"{few} <= n <= {many}", "few": f"n < {few}"}
    handles = [Patch(color=GROUP_COLORS[g], label=f"{g} ({rule[g]})") for g in GROUP_COLORS if g in groups]
    ax.legend(handles=handles, frameon=False, fontsize=8)
    d = splits.description
    ax.set_title(f"{d.get('dataset', '')}: imbalance={d.get('imbalance')}, ratio={d.get('ratio')}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_history(history: Sequence[dict], keys: Sequence[str] = ("loss", "test_balanced_accuracy")) -> plt.Figure:
    """Per-epoch curves of the given history keys, one panel each."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(h["epoch"], h[key]) for h in history if h.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o")
        ax.set_xlabel("epoch")
        ax.set_title(key)
    sns.despine(fig)
    fig.tight_layout()
    return fig
