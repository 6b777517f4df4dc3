"""CIFAR-10/100, ISIC 2018 and DermaMNIST loaders on small files in the real formats."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import fake_images
from PIL import Image

from imbalanced_contrastive.data.cifar import load_cifar
from imbalanced_contrastive.data.dermamnist import load_dermamnist
from imbalanced_contrastive.data.isic import CLASSES as ISIC_CLASSES
from imbalanced_contrastive.data.isic import load_isic2018
from imbalanced_contrastive.data.splits import build_splits


def _pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def write_cifar10(root, per_batch=20):
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for i in range(1, 6):
        _pickle(
            d / f"data_batch_{i}",
            {
                b"data": fake_images(per_batch, 32, 32, 3, seed=i).reshape(per_batch, -1),
                b"labels": [j % 10 for j in range(per_batch)],
            },
        )
    _pickle(d / "test_batch", {b"data": fake_images(10, 32, 32, 3, seed=9).reshape(10, -1), b"labels": list(range(10))})
    _pickle(d / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]})
    return d


def test_cifar10_real_format(tmp_path):
    d = write_cifar10(tmp_path)
    raw = pickle.load(open(d / "data_batch_2", "rb"), encoding="bytes")[b"data"][3].reshape(3, 32, 32)
    train, test = load_cifar("cifar10", tmp_path)
    assert train.images.shape == (100, 3, 32, 32) and test.images.shape == (10, 3, 32, 32)
    assert torch.equal(train.images[23], torch.from_numpy(raw))  # batch 2, row 3: channel-major layout
    assert train.classes[3] == "c3"


def test_cifar100_real_format(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    _pickle(
        d / "train",
        {
            b"data": fake_images(200, 32, 32, 3).reshape(200, -1),
            b"fine_labels": [i % 100 for i in range(200)],
            b"coarse_labels": [0] * 200,
        },
    )
    _pickle(
        d / "test",
        {
            b"data": fake_images(100, 32, 32, 3).reshape(100, -1),
            b"fine_labels": list(range(100)),
            b"coarse_labels": [0] * 100,
        },
    )
    _pickle(d / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)], b"coarse_label_names": []})
    train, test = load_cifar("cifar100", d)
    assert train.num_classes == 100 and train.class_counts().tolist() == [2] * 100


def test_cifar_errors(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_cifar("cifar1000", tmp_path)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_cifar("cifar10", tmp_path)
    d = write_cifar10(tmp_path)
    _pickle(d / "test_batch", {b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4})
    with pytest.raises(ValueError, match=r"\[N, 3072\]"):
        load_cifar("cifar10", tmp_path)


def test_cifar_long_tail_profile(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    write_cifar10(tmp_path, per_batch=100)  # 50 per class
    splits = build_splits(
        "cifar10", data_dir=tmp_path, imbalance="long_tail", ratio=10, seed=3, many_threshold=30, few_threshold=10
    )
    assert splits.description["train_counts"] == [int(np.floor(50 * 10 ** (-c / 9) + 1e-9)) for c in range(10)]
    assert d.exists()


def write_isic(root, split="Training", n_per_class=2, size=(60, 45)):
    images = root / f"ISIC2018_Task3_{split}_Input"
    images.mkdir(parents=True)
    rows = ["image," + ",".join(ISIC_CLASSES)]
    k = 0
    for c in range(len(ISIC_CLASSES)):
        for _ in range(n_per_class):
            name = f"ISIC_{k:07d}"
            Image.fromarray(fake_images(1, size[1], size[0], 3, seed=k)[0]).save(images / f"{name}.jpg")
            onehot = ["1.0" if j == c else "0.0" for j in range(len(ISIC_CLASSES))]
            rows.append(name + "," + ",".join(onehot))
            k += 1
    (root / f"ISIC2018_Task3_{split}_GroundTruth.csv").write_text("\n".join(rows) + "\n")


def test_isic2018_real_format(tmp_path):
    write_isic(tmp_path, "Training")
    write_isic(tmp_path, "Validation", n_per_class=1)
    ds = load_isic2018(tmp_path, "train")
    assert len(ds) == 14 and ds.class_counts().tolist() == [2] * 7
    img, label = ds[3]
    assert img.size == (60, 45) and label == 1
    arr = ds.to_array(16)
    assert arr.images.shape == (14, 3, 16, 16)
    splits = build_splits("isic2018", data_dir=tmp_path, image_size=16)
    assert len(splits.test) == 7  # validation used as the held-out split when no test CSV exists


def test_isic2018_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ISIC2018_Task3_Training_GroundTruth.csv"):
        load_isic2018(tmp_path)
    write_isic(tmp_path)
    csv = tmp_path / "ISIC2018_Task3_Training_GroundTruth.csv"
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].replace("0.0", "1.0", 1)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="not one-hot"):
        load_isic2018(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_isic2018(tmp_path, "training")


def test_isic2018_missing_image(tmp_path):
    write_isic(tmp_path)
    next((tmp_path / "ISIC2018_Task3_Training_Input").glob("*.jpg")).unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        load_isic2018(tmp_path)


def write_dermamnist(path):
    arrays = {}
    for split, n in (("train", 21), ("val", 7), ("test", 14)):
        arrays[f"{split}_images"] = fake_images(n, 28, 28, 3)
        arrays[f"{split}_labels"] = (np.arange(n) % 7).reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)


def test_dermamnist_real_format(tmp_path):
    write_dermamnist(tmp_path / "dermamnist.npz")
    with pytest.raises(ValueError, match="corrupt"):
        load_dermamnist(tmp_path)  # our small file is not the published archive
    splits = load_dermamnist(tmp_path, verify=False)
    assert splits["train"].images.shape == (21, 3, 28, 28)
    assert splits["test"].class_counts().tolist() == [2] * 7


def test_dermamnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="zenodo"):
        load_dermamnist(tmp_path)
    with pytest.raises(ValueError, match="size must be one of"):
        load_dermamnist(tmp_path, size=32)
    np.savez(tmp_path / "dermamnist.npz", train_images=np.zeros((1, 28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match="lacks the arrays"):
        load_dermamnist(tmp_path, verify=False)
