"""Datasets (offline first), imbalance profiles, and augmented views."""

from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset
from imbalanced_contrastive.data.imbalance import (
    ClassGroups,
    long_tail_counts,
    split_groups,
    step_counts,
    subsample_indices,
)
from imbalanced_contrastive.data.registry import DATASETS, IMBALANCE_PROFILES, build_splits, fixed_batches, load_source
from imbalanced_contrastive.data.views import BatchAugment, MultiViewTransform, make_views, pil_view_transform, to_float

__all__ = [
    "DATASETS", "IMBALANCE_PROFILES", "BatchAugment", "ClassGroups", "DataSplits", "ImageArrayDataset",
    "MultiViewTransform", "build_splits", "fixed_batches", "load_source", "long_tail_counts", "make_views",
    "pil_view_transform", "split_groups", "step_counts", "subsample_indices", "to_float",
]
