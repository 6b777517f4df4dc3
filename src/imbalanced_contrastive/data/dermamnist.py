"""DermaMNIST (MedMNIST v2, Yang et al. 2023): HAM10000 / ISIC 2018 resized, in ``.npz`` format.

The archive holds ``train_images`` ``uint8 [N, H, W, 3]``, ``train_labels`` ``[N, 1]`` and the
same for ``val`` and ``test`` (7:1:2 split by the MedMNIST authors). Files: ``dermamnist.npz``
(28x28) or ``dermamnist_{64,128,224}.npz``.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import numpy as np
import torch

from imbalanced_contrastive.data.dataset import ImageArrayDataset
from imbalanced_contrastive.data.files import cache_dir, md5_of_file

CLASSES = [
    "actinic keratoses and intraepithelial carcinoma",
    "basal cell carcinoma",
    "benign keratosis-like lesions",
    "dermatofibroma",
    "melanoma",
    "melanocytic nevi",
    "vascular lesions",
]

# size -> (file name, MD5) as published in MedMNIST's metadata (Zenodo record 10519652).
ARCHIVES = {
    28: ("dermamnist.npz", "0744692d530f8e62ec473284d019b0c7"),
    64: ("dermamnist_64.npz", "b70a2f5635c6199aeaa28c31d7202e1f"),
}
URL = "https://zenodo.org/records/10519652/files/{file}?download=1"
SPLITS = ("train", "val", "test")


def load_dermamnist(
    data_dir: str | Path | None = None, size: int = 28, download: bool = False, verify: bool = True
) -> dict[str, ImageArrayDataset]:
    """Load the DermaMNIST splits.

    Args:
        data_dir: directory holding the ``.npz`` file (tried before the cache).
        size: image side, 28 or 64.
        download: download into the cache when no local file exists (needs internet).
        verify: check the archive's MD5 (tests writing small files turn it off).

    Returns:
        ``{"train", "val", "test"}`` datasets with images ``uint8 [N, 3, size, size]``.

    Raises:
        ValueError: unsupported ``size``, a corrupt archive, or missing keys.
        FileNotFoundError: no file found; the message says how to obtain it.
    """
    if size not in ARCHIVES:
        raise ValueError(f"size must be one of {sorted(ARCHIVES)}; got {size}")
    file_name, md5 = ARCHIVES[size]
    candidates = ([Path(data_dir).expanduser() / file_name] if data_dir is not None else []) + [
        cache_dir() / "medmnist" / file_name
    ]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None and download:
        path = cache_dir() / "medmnist" / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        urllib.request.urlretrieve(URL.format(file=file_name), path)  # noqa: S310 - fixed https URL
    if path is None:
        raise FileNotFoundError(
            f"{file_name} not found in {[str(p.parent) for p in candidates]}. Download it from "
            f"{URL.format(file=file_name)} (or pass download=True where the internet is reachable) "
            "and pass its directory as data_dir."
        )
    if verify and md5_of_file(path) != md5:
        raise ValueError(f"{path} is corrupt: MD5 {md5_of_file(path)} != published {md5}. Delete it and download again.")
    with np.load(path) as archive:
        missing = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in archive]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}; is it a MedMNIST archive?")
        out = {}
        for split in SPLITS:
            images = archive[f"{split}_images"]
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(f"{path}: {split}_images must be [N, H, W, 3]; got {images.shape}")
            labels = archive[f"{split}_labels"].reshape(-1).astype(np.int64)
            out[split] = ImageArrayDataset(
                torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
                torch.from_numpy(labels), list(CLASSES), "dermamnist",
            )
    return out
