"""In-memory image datasets and the train/test bundle every loader returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from imbalanced_contrastive.data.imbalance import ClassGroups, split_groups


@dataclass
class ImageArrayDataset:
    """Images and labels held as tensors (fits in memory: Fashion-MNIST, CIFAR, DermaMNIST).

    Attributes:
        images: ``uint8`` tensor. Shape: ``[N, C, H, W]``.
        labels: ``int64`` tensor of class indices. Shape: ``[N]``.
        classes: class names, index ``c`` names label ``c``.
        name: short dataset name, e.g. ``"fmnist"``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str = "dataset"
    _on_device: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                "images must be a uint8 tensor of shape [N, C, H, W]; got "
                f"dtype={self.images.dtype}, shape={tuple(self.images.shape)}"
            )
        if self.labels.dim() != 1 or self.labels.shape[0] != self.images.shape[0]:
            raise ValueError(
                f"labels must have shape [N] with N={self.images.shape[0]}; got {tuple(self.labels.shape)}"
            )
        self.labels = self.labels.long()
        if self.labels.numel() and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(
                f"labels must lie in [0, {len(self.classes) - 1}] for {len(self.classes)} classes; "
                f"got range [{int(self.labels.min())}, {int(self.labels.max())}]"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def class_counts(self) -> torch.Tensor:
        """Number of samples per class. Shape: ``[num_classes]`` (``int64``)."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    def on(self, device: torch.device) -> torch.Tensor:
        """The images on ``device``, copied there once and kept (training, stage 2's features and
        every evaluation share the one copy)."""
        if device.type == "cpu" and self.images.device.type == "cpu":
            return self.images
        key = str(device)
        if key not in self._on_device:
            from imbalanced_contrastive.training.device import to_device

            self._on_device[key] = to_device(self.images, device)
        return self._on_device[key]

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageArrayDataset:
        """A new dataset holding the rows ``indices`` (in that order)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageArrayDataset(self.images[idx], self.labels[idx], list(self.classes), self.name)


@dataclass
class DataSplits:
    """A train/test pair with the training class counts and many/medium/few groups.

    Attributes:
        train: the (possibly imbalanced) training set.
        test: the test set (balanced for Fashion-MNIST and CIFAR, as in the papers).
        groups: many/medium/few membership of each class, from the training counts.
        description: how the splits were made (source, imbalance profile), for run records.
    """

    train: ImageArrayDataset
    test: ImageArrayDataset
    groups: ClassGroups = field(init=False)
    description: dict = field(default_factory=dict)
    many_threshold: int = 100
    few_threshold: int = 20

    def __post_init__(self) -> None:
        if self.train.classes != self.test.classes:
            raise ValueError("train and test sets must have the same class list")
        self.groups = split_groups(
            self.train.class_counts(),
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )

    @property
    def class_counts(self) -> torch.Tensor:
        """Training samples per class. Shape: ``[num_classes]``."""
        return self.train.class_counts()

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def classes(self) -> list[str]:
        return self.train.classes
