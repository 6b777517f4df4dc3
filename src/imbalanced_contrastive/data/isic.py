"""ISIC 2018 Task 3 (HAM10000; Codella et al. 2019, Tschandl et al. 2018).

Layout of the official release::

    <root>/ISIC2018_Task3_Training_GroundTruth.csv      image,MEL,NV,BCC,AKIEC,BKL,DF,VASC
    <root>/ISIC2018_Task3_Training_Input/ISIC_0024306.jpg ...
    (and the same with Validation / Test)

The ground-truth CSV is one-hot (``1.0`` in exactly one class column per row). Images are
600x450 JPEGs; :meth:`ImageFileDataset.to_array` decodes and resizes them into memory.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imbalanced_contrastive.data.dataset import ImageArrayDataset

CLASSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
SPLIT_NAMES = {"train": "Training", "val": "Validation", "test": "Test"}

HOW_TO_OBTAIN = (
    "ISIC 2018 Task 3 cannot be downloaded here. Download the Task 3 'Training Data', 'Training "
    "Ground Truth' (and Validation/Test) archives from the ISIC 2018 challenge page, extract them "
    "into one directory, and pass it as data_dir."
)


@dataclass
class ImageFileDataset:
    """Images on disk with integer labels (too large to hold at full size in memory)."""

    paths: list[Path]
    labels: torch.Tensor
    classes: list[str]
    name: str = "isic2018"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        from PIL import Image

        with Image.open(self.paths[index]) as img:
            return img.convert("RGB"), int(self.labels[index])

    def class_counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=len(self.classes))

    def to_array(self, size: int = 64) -> ImageArrayDataset:
        """Decode every image, resize to ``size x size`` and return it as an in-memory dataset."""
        from PIL import Image

        if size < 8:
            raise ValueError(f"size must be >= 8 pixels; got {size}")
        images = np.empty((len(self), 3, size, size), dtype=np.uint8)
        for i, path in enumerate(self.paths):
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR))
            images[i] = arr.transpose(2, 0, 1)
        return ImageArrayDataset(torch.from_numpy(images), self.labels.clone(), list(self.classes), self.name)


def load_isic2018(data_dir: str | Path, split: str = "train") -> ImageFileDataset:
    """Read the ISIC 2018 Task 3 ground truth and image paths of one split.

    Args:
        data_dir: directory with the extracted official archives.
        split: ``"train"``, ``"val"`` or ``"test"``.

    Raises:
        ValueError: unknown split, a CSV with wrong columns or a row that is not one-hot.
        FileNotFoundError: a missing CSV, image folder or image (names it and says how to get it).
    """
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {sorted(SPLIT_NAMES)}; got {split!r}")
    root = Path(data_dir).expanduser()
    tag = SPLIT_NAMES[split]
    csv_path = root / f"ISIC2018_Task3_{tag}_GroundTruth.csv"
    image_dir = root / f"ISIC2018_Task3_{tag}_Input"
    for needed in (csv_path, image_dir):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} does not exist. {HOW_TO_OBTAIN}")
    paths, labels = [], []
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        expected = ["image"] + CLASSES
        if reader.fieldnames is None or [c.strip() for c in reader.fieldnames] != expected:
            raise ValueError(f"{csv_path} must have the columns {expected}; got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            onehot = [float(row[c]) for c in CLASSES]
            if sorted(onehot) != [0.0] * (len(CLASSES) - 1) + [1.0]:
                raise ValueError(f"{csv_path}:{line}: row {row['image']} is not one-hot: {onehot}")
            image = image_dir / f"{row['image'].strip()}.jpg"
            if not image.is_file():
                raise FileNotFoundError(f"{image} listed in {csv_path} is missing. {HOW_TO_OBTAIN}")
            paths.append(image)
            labels.append(onehot.index(1.0))
    return ImageFileDataset(paths, torch.tensor(labels, dtype=torch.long), list(CLASSES))
