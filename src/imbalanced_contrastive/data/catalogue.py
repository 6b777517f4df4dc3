"""The dataset catalogue: every fact about a dataset in one :class:`DatasetSpec`.

Everything else reads it: the loaders (:meth:`DatasetSpec.load`), the views (normalisation and
augmentation), the models (classes and channels), the configuration (the settings a dataset
imposes, and its ``paper`` profile) and the results tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imbalanced_contrastive.data.dataset import ImageArrayDataset

Loader = Callable[[str | Path | None, bool, int], tuple[ImageArrayDataset, ImageArrayDataset]]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset.

    Attributes:
        name: short name used everywhere (``"fmnist"``).
        title: the name readers know.
        num_classes: number of classes.
        in_channels: image channels (1 or 3).
        side: the image side as loaded (ISIC 2018 is resized to the config's ``image_size``).
        normalization: per-channel ``(mean, std)`` used to standardise inputs.
        loader: ``(data_dir, download, image_size) -> (train, test)``.
        settings: config settings the dataset imposes in every profile (the naturally imbalanced
            skin-lesion sets keep all their images and no extra imbalance).
        smoke: extra settings of the ``smoke`` profile for this dataset.
        paper: the ``paper`` profile's settings for this dataset (the papers' protocol, or the
            companion's documented defaults where it could not be recovered).
        flip: whether horizontal flips are a valid augmentation (clothes, objects and lesions: yes).
    """

    name: str
    title: str
    num_classes: int
    in_channels: int
    side: int
    normalization: tuple[tuple[float, ...], tuple[float, ...]]
    loader: Loader
    settings: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, Any] = field(default_factory=dict)
    flip: bool = True

    def load(
        self, data_dir: str | Path | None = None, download: bool = False, image_size: int = 64
    ) -> tuple[ImageArrayDataset, ImageArrayDataset]:
        """The train and held-out sets as in-memory tensors (see each loader for its sources)."""
        return self.loader(data_dir, download, image_size)


def _fmnist(data_dir, download, image_size):
    from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist

    return load_fashion_mnist(data_dir, download=download)


def _cifar(name: str) -> Loader:
    def load(data_dir, download, image_size):
        from imbalanced_contrastive.data.cifar import load_cifar

        return load_cifar(name, data_dir, download=download)

    return load


def _dermamnist(data_dir, download, image_size):
    from imbalanced_contrastive.data.dermamnist import load_dermamnist

    splits = load_dermamnist(data_dir, download=download)
    return splits["train"], splits["test"]


def _isic2018(data_dir, download, image_size):
    from imbalanced_contrastive.data.isic import load_isic2018

    if data_dir is None:
        raise FileNotFoundError(
            "isic2018 needs data_dir: the folder with the extracted official ISIC 2018 Task 3 archives "
            "(the library does not download them)"
        )
    # The official Task 3 test ground truth is distributed separately; the validation split is the
    # held-out set when the test CSV is absent.
    root = Path(data_dir)
    held_out = "test" if (root / "ISIC2018_Task3_Test_GroundTruth.csv").exists() else "val"
    return load_isic2018(root, "train").to_array(image_size), load_isic2018(root, held_out).to_array(image_size)


# The long-tailed CIFAR protocol of BCL and ResCom (book/paper_specs.md, spec-longtail-protocol).
_CIFAR_LT_PAPER = dict(
    imbalance="long_tail",
    ratio=100.0,
    minority_classes=[],
    train_per_class=None,
    test_per_class=None,
    many_threshold=100,
    few_threshold=20,
    encoder="resnet32",
    batch_size=256,
    lr=0.15,
    weight_decay=5e-4,
    epochs=200,
    warmup_epochs=5,
    schedule="step",
    milestones=[160, 180],
    embed_points=2000,
)
# Naturally imbalanced (NV has 6,705 of 10,015 images): no extra imbalance, all images kept.
_SKIN_LESIONS = dict(
    imbalance="none",
    ratio=1.0,
    minority_classes=[],
    train_per_class=None,
    test_per_class=None,
    many_threshold=1000,
    few_threshold=200,
)
_SKIN_LESIONS_PAPER = dict(
    encoder="resnet18", epochs=100, batch_size=128, lr=0.05, classifier_epochs=30, embed_points=2000
)

CATALOGUE: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "fmnist",
            "Fashion-MNIST",
            10,
            1,
            28,
            ((0.2860,), (0.3530,)),
            _fmnist,
            # ACL paper: the protocol was not recoverable (book/paper_specs.md, spec-acl-data). Documented
            # defaults: step profile, ratio 100, ResNet-18 (random init, small-input stem), 100 epochs.
            paper=dict(
                train_per_class=None,
                test_per_class=None,
                ratio=100.0,
                many_threshold=100,
                few_threshold=20,
                encoder="resnet18",
                epochs=100,
                batch_size=128,
                lr=0.05,
                classifier_epochs=30,
                embed_points=2000,
            ),
        ),
        DatasetSpec(
            "cifar10",
            "CIFAR-10",
            10,
            3,
            32,
            ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
            _cifar("cifar10"),
            paper=_CIFAR_LT_PAPER,
        ),
        DatasetSpec(
            "cifar100",
            "CIFAR-100",
            100,
            3,
            32,
            ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
            _cifar("cifar100"),
            paper=_CIFAR_LT_PAPER,
        ),
        DatasetSpec(
            "dermamnist",
            "DermaMNIST",
            7,
            3,
            28,
            ((0.7631, 0.5381, 0.5614), (0.1366, 0.1543, 0.1692)),
            _dermamnist,
            settings=_SKIN_LESIONS,
            smoke=dict(many_threshold=3, few_threshold=2, image_size=16),
            paper=_SKIN_LESIONS_PAPER,
        ),
        DatasetSpec(
            "isic2018",
            "ISIC 2018 Task 3",
            7,
            3,
            64,
            ((0.7635, 0.5461, 0.5705), (0.1409, 0.1526, 0.1700)),
            _isic2018,
            settings=_SKIN_LESIONS,
            smoke=dict(many_threshold=3, few_threshold=2, image_size=16),
            paper=_SKIN_LESIONS_PAPER,
        ),
    )
}
"""Every dataset the companion knows, by name."""

DATASETS = tuple(CATALOGUE)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name``; raises ``ValueError`` listing the known datasets."""
    if name not in CATALOGUE:
        raise ValueError(f"dataset must be one of {DATASETS}; got {name!r}")
    return CATALOGUE[name]


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
    return dataset_spec(name).load(data_dir, download, image_size)
