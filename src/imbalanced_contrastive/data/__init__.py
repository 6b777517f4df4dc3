"""Datasets: the catalogue (every dataset's facts and loader), imbalance shapes, splits, views."""

from imbalanced_contrastive.data.catalogue import CATALOGUE, DATASETS, DatasetSpec, dataset_spec, load_source
from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset
from imbalanced_contrastive.data.imbalance import (
    ClassGroups,
    long_tail_counts,
    split_groups,
    step_counts,
    subsample_indices,
)
from imbalanced_contrastive.data.splits import IMBALANCE_SHAPES, build_splits
from imbalanced_contrastive.data.views import BatchAugment, make_views, to_float

__all__ = [
    "CATALOGUE",
    "DATASETS",
    "IMBALANCE_SHAPES",
    "BatchAugment",
    "ClassGroups",
    "DataSplits",
    "DatasetSpec",
    "ImageArrayDataset",
    "build_splits",
    "dataset_spec",
    "load_source",
    "long_tail_counts",
    "make_views",
    "split_groups",
    "step_counts",
    "subsample_indices",
    "to_float",
]
