"""Fashion-MNIST: real files from the Debian package, precedence of sources, checksums, errors."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch
from conftest import fake_images

from imbalanced_contrastive.data.fashion_mnist import CLASSES, FILES, load_fashion_mnist, locate_fashion_mnist
from imbalanced_contrastive.data.files import parse_idx, write_idx


def test_real_fashion_mnist_loads_and_verifies(real_fmnist_dir):
    train, test = load_fashion_mnist(real_fmnist_dir)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 1, 28, 28)
    assert train.class_counts().tolist() == [6000] * 10
    assert test.class_counts().tolist() == [1000] * 10
    assert train.classes == CLASSES


def _write_fake(directory, n_train=30, n_test=10, compress=True):
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    write_idx(directory / f"train-images-idx3-ubyte{ext}", fake_images(n_train), compress)
    write_idx(directory / f"train-labels-idx1-ubyte{ext}", np.arange(n_train) % 10, compress)
    write_idx(directory / f"t10k-images-idx3-ubyte{ext}", fake_images(n_test, seed=1), compress)
    write_idx(directory / f"t10k-labels-idx1-ubyte{ext}", np.arange(n_test) % 10, compress)


def test_explicit_data_dir_comes_first(tmp_path):
    _write_fake(tmp_path / "mine")
    assert locate_fashion_mnist(tmp_path / "mine") == tmp_path / "mine"
    train, test = load_fashion_mnist(tmp_path / "mine", verify=False)
    assert len(train) == 30 and len(test) == 10


def test_torchvision_layout_and_uncompressed_files(tmp_path):
    _write_fake(tmp_path / "root" / "FashionMNIST" / "raw", compress=False)
    train, _ = load_fashion_mnist(tmp_path / "root", verify=False)
    assert train.images.shape == (30, 1, 28, 28)


def test_cache_is_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("IMBALANCED_CONTRASTIVE_DATA", str(tmp_path / "cache"))
    _write_fake(tmp_path / "cache" / "fashion-mnist")
    assert locate_fashion_mnist(None) == tmp_path / "cache" / "fashion-mnist"


def test_fake_files_fail_the_checksum_and_name_the_file(tmp_path):
    _write_fake(tmp_path / "bad")
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz is corrupt") as err:
        load_fashion_mnist(tmp_path / "bad")
    assert "apt-get install -y dataset-fashion-mnist" in str(err.value)


def test_corrupted_real_file_is_rejected(real_fmnist_dir, tmp_path):
    bad = tmp_path / "corrupt"
    bad.mkdir()
    for stem in FILES:
        shutil.copy(real_fmnist_dir / f"{stem}.gz", bad / f"{stem}.gz")
    payload = gzip.open(bad / "t10k-labels-idx1-ubyte.gz").read()
    flipped = payload[:-1] + bytes([(payload[-1] + 1) % 10])
    with gzip.open(bad / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(flipped)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        load_fashion_mnist(bad)


def test_missing_files_say_which_and_how_to_obtain(tmp_path, monkeypatch):
    import imbalanced_contrastive.data.fashion_mnist as fm

    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    partial = tmp_path / "partial"
    _write_fake(partial)
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist(partial)
    msg = str(err.value)
    assert "missing t10k-images-idx3-ubyte.gz" in msg
    assert "apt-get" in msg and "download=True" in msg and "data_dir" in msg


def test_truncated_idx_is_a_clear_error():
    with pytest.raises(ValueError, match="truncated"):
        parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "x.idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x89PNG....", "x.png")
