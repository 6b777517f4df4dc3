"""Fashion-MNIST (Xiao et al. 2017), read offline first.

Sources, in order:

1. an explicit ``data_dir``;
2. the user cache (``$IMBALANCED_CONTRASTIVE_DATA`` or ``~/.cache/imbalanced_contrastive``);
3. the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
4. torchvision's download into the cache, where the internet is reachable (Colab).

Each directory may hold the four IDX files directly or in torchvision's ``FashionMNIST/raw``
layout, gzip-compressed or not. Every file is checked against known MD5 sums: the upstream
archive's, or, since Debian recompresses the archives, the MD5 of the decompressed IDX payload.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from imbalanced_contrastive.data.dataset import ImageArrayDataset
from imbalanced_contrastive.data.files import cache_dir, md5_of_bytes, md5_of_file, parse_idx, read_maybe_gzip

log = logging.getLogger(__name__)

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

# file stem -> (MD5 of the upstream .gz archive, MD5 of the decompressed IDX payload).
# Archive sums are those published with the dataset (and used by torchvision); payload sums were
# measured on the Debian package's files, whose archives are recompressed but whose payload is
# the upstream data.
FILES = {
    "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
}

HOW_TO_OBTAIN = (
    "Obtain Fashion-MNIST in one of three ways:\n"
    "  1. Debian/Ubuntu: apt-get update && apt-get install -y dataset-fashion-mnist\n"
    "     (installs the files in /usr/share/datasets/fashion-mnist; `make data` does this);\n"
    "  2. with internet access (e.g. Colab): download=True (the notebooks' default; the CLI's\n"
    "     --download) downloads them with torchvision into the cache directory;\n"
    "  3. copy the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,\n"
    "     t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz into a directory and pass it as\n"
    "     data_dir (or set $IMBALANCED_CONTRASTIVE_DATA)."
)


def _candidate_dirs(data_dir: str | Path | None) -> list[Path]:
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    roots.append(cache_dir() / "fashion-mnist")
    roots.append(cache_dir())
    roots.append(DEBIAN_DIR)
    dirs: list[Path] = []
    for root in roots:
        dirs += [root, root / "FashionMNIST" / "raw"]
    return dirs


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        path = directory / name
        if path.is_file():
            return path
    return None


def _verified_payload(path: Path, stem: str, verify: bool) -> bytes:
    payload = read_maybe_gzip(path)
    if verify:
        archive_md5, payload_md5 = FILES[stem]
        if md5_of_bytes(payload) != payload_md5 and md5_of_file(path) != archive_md5:
            raise ValueError(
                f"Fashion-MNIST file {path} is corrupt: its MD5 matches neither the upstream archive "
                f"({archive_md5}) nor the IDX payload ({payload_md5}). Delete it and obtain it again.\n" + HOW_TO_OBTAIN
            )
    return payload


def _check_explicit_dir(directory: Path) -> None:
    """An explicit ``data_dir`` is used or rejected, never silently passed over for another copy."""
    if not directory.is_dir():
        raise FileNotFoundError(f"data_dir {directory} does not exist (or is not a folder).\n" + HOW_TO_OBTAIN)
    for d in (directory, directory / "FashionMNIST" / "raw"):
        if all(_find_file(d, stem) for stem in FILES):
            return
    missing = [s + ".gz" for s in FILES if _find_file(directory, s) is None]
    raise FileNotFoundError(f"data_dir {directory} is incomplete: missing {', '.join(missing)}.\n" + HOW_TO_OBTAIN)


def locate_fashion_mnist(data_dir: str | Path | None = None) -> Path | None:
    """The first directory among the sources that holds all four files, or ``None``."""
    for directory in _candidate_dirs(data_dir):
        if all(_find_file(directory, stem) for stem in FILES):
            return directory
    return None


def _download(target: Path) -> Path:
    """Download with torchvision (its mirrors and MD5 sums) into ``target``; returns the folder
    holding the files.

    Raises:
        FileNotFoundError: the download failed (offline, say); the message names the cause.
    """
    from torchvision.datasets import FashionMNIST

    try:
        for train in (True, False):
            FashionMNIST(root=str(target), train=train, download=True)
    except Exception as err:  # noqa: BLE001 - any network or disk failure: report it with the way out
        raise FileNotFoundError(
            f"Fashion-MNIST is not on this machine and downloading it into {target} failed "
            f"({type(err).__name__}: {err}).\n" + HOW_TO_OBTAIN
        ) from err
    return target / "FashionMNIST" / "raw"


def load_fashion_mnist(
    data_dir: str | Path | None = None, download: bool = False, verify: bool = True
) -> tuple[ImageArrayDataset, ImageArrayDataset]:
    """Load the Fashion-MNIST training (60,000) and test (10,000) sets.

    Args:
        data_dir: a directory to try first (see the module docstring for the layout).
        download: when no local copy exists, download with torchvision (its mirrors and MD5
            sums) into the user cache.
        verify: check each file's MD5 (strongly recommended; tests writing small files turn it off).

    Returns:
        ``(train, test)``; images ``uint8 [N, 1, 28, 28]``, labels ``int64 [N]``.

    Raises:
        FileNotFoundError: an explicit ``data_dir`` that does not exist or lacks a file (it is
            never passed over for another copy), or no source holds the four files (and
            ``download`` is off or failed); the message says what was searched, the download
            error if any, and how to obtain them.
        ValueError: a file is corrupt (names the file).
    """
    if data_dir is not None:
        _check_explicit_dir(Path(data_dir).expanduser())
    directory = locate_fashion_mnist(data_dir)
    if directory is None and download:
        log.info("Fashion-MNIST not found locally; downloading it into %s", cache_dir())
        directory = _download(cache_dir())
    if directory is None:
        searched = _candidate_dirs(data_dir)
        missing_where = []
        for d in searched:
            if d.is_dir():
                missing = [s + ".gz" for s in FILES if _find_file(d, s) is None]
                missing_where.append(f"  {d}: missing {', '.join(missing)}")
        detail = "\n".join(missing_where) or "  (none of the searched directories exists)"
        raise FileNotFoundError(
            "Fashion-MNIST not found. Searched:\n"
            + "\n".join(f"  {d}" for d in searched)
            + "\nIncomplete directories:\n"
            + detail
            + "\n"
            + HOW_TO_OBTAIN
        )
    arrays = {}
    for stem in FILES:
        path = _find_file(directory, stem)
        assert path is not None
        arrays[stem] = parse_idx(_verified_payload(path, stem, verify), source=str(path))

    def build(images: np.ndarray, labels: np.ndarray, split: str) -> ImageArrayDataset:
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"Fashion-MNIST {split} images {images.shape} and labels {labels.shape} do not match")
        return ImageArrayDataset(
            torch.from_numpy(images).unsqueeze(1).contiguous(),
            torch.from_numpy(labels.astype(np.int64)),
            list(CLASSES),
            "fmnist",
        )

    train = build(arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"], "train")
    test = build(arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"], "test")
    log.info("Fashion-MNIST loaded from %s", directory)
    return train, test
