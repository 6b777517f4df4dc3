"""CIFAR-10 and CIFAR-100 in torchvision's python-pickle format (Krizhevsky 2009).

Layout (as torchvision extracts it)::

    <root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    <root>/cifar-100-python/{train, test, meta}

Each batch is a pickled dict (read with a restricted unpickler that admits only containers and
numpy arrays, so a crafted file cannot run code) with ``b"data"`` (``uint8 [N, 3072]``, channel-major 32x32) and
``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). Where the internet is reachable,
``download=True`` lets torchvision fetch and MD5-check the archive; local files are validated by
shape and label range.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from imbalanced_contrastive.data.dataset import ImageArrayDataset
from imbalanced_contrastive.data.files import cache_dir

_LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": ("batches.meta", b"label_names"),
        "label_key": b"labels",
        "num_classes": 10,
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": ("meta", b"fine_label_names"),
        "label_key": b"fine_labels",
        "num_classes": 100,
    },
}

HOW_TO_OBTAIN = (
    "Obtain CIFAR in one of two ways:\n"
    "  1. with internet access (e.g. Colab): download=True (the notebooks' default; the CLI's\n"
    "     --download) lets torchvision download and check the archive into the cache directory;\n"
    "  2. extract the official python archive (cifar-10-python.tar.gz / cifar-100-python.tar.gz)\n"
    "     into a directory and pass it as data_dir."
)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: builtin containers, bytes, numbers, and numpy arrays.

    The python-format CIFAR files are pickles by nature; a pickle can name any callable, so a
    crafted file could run code on load. This unpickler admits only the callables that rebuild
    numpy arrays and refuses every other global.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch file")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    """A CIFAR batch (a dict) read with :class:`_BatchUnpickler`; ``ValueError`` naming the file
    when it is not one."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path} is not a CIFAR batch file ({type(err).__name__}: {err})") from err
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR batch file (it holds a {type(batch).__name__}, not a dict)")
    return batch


def _find_root(name: str, data_dir: str | Path | None) -> Path | None:
    """The folder with ``name``'s files: in ``data_dir`` only when it is given, else in the cache."""
    folder = _LAYOUT[name]["folder"]
    roots = [Path(data_dir).expanduser()] if data_dir is not None else [cache_dir() / "cifar", cache_dir()]
    for root in roots:
        for candidate in (root / folder, root):
            files = _LAYOUT[name]["train"] + _LAYOUT[name]["test"] + [_LAYOUT[name]["meta"][0]]
            if all((candidate / f).is_file() for f in files):
                return candidate
    return None


def _download(name: str, target: Path) -> Path:
    """Download, MD5-check and extract the official archive with torchvision's downloader and the
    URL and checksum its dataset class publishes.

    Raises:
        FileNotFoundError: the download failed; the message names the cause and the way out.
    """
    from torchvision.datasets import CIFAR10, CIFAR100
    from torchvision.datasets.utils import download_and_extract_archive

    source = CIFAR10 if name == "cifar10" else CIFAR100
    try:
        download_and_extract_archive(source.url, str(target), filename=source.filename, md5=source.tgz_md5)
    except Exception as err:  # noqa: BLE001 - any network or disk failure: report it with the way out
        raise FileNotFoundError(
            f"{name} is not on this machine and downloading it into {target} failed "
            f"({type(err).__name__}: {err}).\n" + HOW_TO_OBTAIN
        ) from err
    folder = _find_root(name, target)
    if folder is None:
        raise FileNotFoundError(f"{name} was downloaded into {target} but its files are incomplete.\n" + HOW_TO_OBTAIN)
    return folder


def load_cifar(
    name: str, data_dir: str | Path | None = None, download: bool = False
) -> tuple[ImageArrayDataset, ImageArrayDataset]:
    """Load CIFAR-10 (``name="cifar10"``) or CIFAR-100 (``"cifar100"``).

    Returns:
        ``(train, test)`` with images ``uint8 [N, 3, 32, 32]`` and labels ``int64 [N]``.

    Raises:
        ValueError: unknown ``name`` or malformed files.
        FileNotFoundError: no local copy and no download; the message says how to obtain one.
    """
    if name not in _LAYOUT:
        raise ValueError(f"name must be one of {sorted(_LAYOUT)}; got {name!r}")
    spec = _LAYOUT[name]
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise FileNotFoundError(f"data_dir {data_dir} does not exist (or is not a folder).\n" + HOW_TO_OBTAIN)
    folder = _find_root(name, data_dir)
    if folder is None and data_dir is not None:
        spec = _LAYOUT[name]
        raise FileNotFoundError(
            f"data_dir {data_dir} holds no {name} files (the folder {spec['folder']} with "
            f"{spec['train'] + spec['test']}).\n" + HOW_TO_OBTAIN
        )
    if folder is None and download:
        folder = _download(name, cache_dir() / "cifar")
    if folder is None:
        raise FileNotFoundError(
            f"{name} not found under {data_dir or '(no data_dir)'} or the cache {cache_dir()}: "
            f"expected the folder {spec['folder']} with {spec['train'] + spec['test']}.\n" + HOW_TO_OBTAIN
        )
    meta_file, meta_key = spec["meta"]
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in _unpickle(folder / meta_file)[meta_key]]
    if len(classes) != spec["num_classes"]:
        raise ValueError(f"{folder / meta_file} lists {len(classes)} classes; {name} has {spec['num_classes']}")

    def read(files: list[str]) -> ImageArrayDataset:
        images, labels = [], []
        for f in files:
            batch = _unpickle(folder / f)
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3072:
                raise ValueError(f"{folder / f}: data must have shape [N, 3072]; got {data.shape}")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[spec["label_key"]], dtype=np.int64))
        return ImageArrayDataset(
            torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), classes, name
        )

    return read(spec["train"]), read(spec["test"])
