"""DermaMNIST (MedMNIST v2, Yang et al. 2023): HAM10000 / ISIC 2018 resized, in ``.npz`` format.

The archive holds ``train_images`` ``uint8 [N, H, W, 3]``, ``train_labels`` ``[N, 1]`` and the
same for ``val`` and ``test`` (7:1:2 split by the MedMNIST authors). Files: ``dermamnist.npz``
(28x28) or ``dermamnist_{64,128,224}.npz``. Downloads go through the ``medmnist`` package, whose
metadata also holds each archive's URL and MD5 sum.
"""

from __future__ import annotations

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

SIZES = (28, 64, 128, 224)
SPLITS = ("train", "val", "test")


def _published(size: int) -> tuple[str, str, str]:
    """``(file name, URL, MD5)`` of the archive as the ``medmnist`` package publishes them."""
    from medmnist import INFO

    flag = "" if size == 28 else f"_{size}"
    info = INFO["dermamnist"]
    return f"dermamnist{flag}.npz", info[f"url{flag}"], info[f"MD5{flag}"]


def _download(size: int, target: Path) -> Path:
    """Download the archive with ``medmnist`` (its URL and MD5) into ``target``.

    Raises:
        FileNotFoundError: the download failed; the message names the cause and the way out.
    """
    from medmnist import DermaMNIST

    file_name, url, _ = _published(size)
    target.mkdir(parents=True, exist_ok=True)
    try:
        DermaMNIST(split="train", download=True, root=str(target), size=size)
    except Exception as err:  # noqa: BLE001 - any network or disk failure: report it with the way out
        cause = err.__context__ or err  # medmnist re-raises a long generic message; name the real cause
        raise FileNotFoundError(
            f"DermaMNIST is not on this machine and downloading {file_name} into {target} failed "
            f"({type(cause).__name__}: {' '.join(str(cause).split())[:300]}). Download it from {url} and "
            "pass its directory as data_dir."
        ) from err
    return target / file_name


def load_dermamnist(
    data_dir: str | Path | None = None, size: int = 28, download: bool = False, verify: bool = True
) -> dict[str, ImageArrayDataset]:
    """Load the DermaMNIST splits.

    Args:
        data_dir: directory holding the ``.npz`` file (tried before the cache).
        size: image side, one of :data:`SIZES`.
        download: when no local file exists, download it with ``medmnist`` into the user cache
            (needs the internet).
        verify: check the archive's MD5 (tests writing small files turn it off).

    Returns:
        ``{"train", "val", "test"}`` datasets with images ``uint8 [N, 3, size, size]``.

    Raises:
        ValueError: unsupported ``size``, a corrupt archive, or missing keys.
        FileNotFoundError: no file found; the message says how to obtain it.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; got {size!r}")
    file_name, url, md5 = _published(size)
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise FileNotFoundError(f"data_dir {data_dir} does not exist (or is not a folder)")
    # an explicit data_dir is used or rejected, never passed over for the cache's copy
    candidates = (
        [Path(data_dir).expanduser() / file_name] if data_dir is not None else [cache_dir() / "medmnist" / file_name]
    )
    path = next((p for p in candidates if p.is_file()), None)
    if path is None and download and data_dir is None:
        path = _download(size, cache_dir() / "medmnist")
    if path is None:
        raise FileNotFoundError(
            f"{file_name} not found in {[str(p.parent) for p in candidates]}. Download it from {url} "
            "(or pass download=True where the internet is reachable) and pass its directory as data_dir."
        )
    if verify and md5_of_file(path) != md5:
        raise ValueError(
            f"{path} is corrupt: MD5 {md5_of_file(path)} != published {md5}. Delete it and download again."
        )
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
                torch.from_numpy(labels),
                list(CLASSES),
                "dermamnist",
            )
    return out
