"""Shared fixtures: real Fashion-MNIST (required), small real-format files written on the fly."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from imbalanced_contrastive.data.fashion_mnist import locate_fashion_mnist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))  # the book build and the notebook sync live in tools/, not in the library

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def real_fmnist_dir() -> Path:
    """The real Fashion-MNIST directory. `make test` installs it; without it the test fails."""
    where = locate_fashion_mnist()
    if where is None:
        pytest.fail(
            "real Fashion-MNIST is required by this test: run `make data` (apt-get install "
            "dataset-fashion-mnist) or set IMBALANCED_CONTRASTIVE_DATA to a folder with the four files"
        )
    return where


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_cache(tmp_path_factory):
    """The same for what session fixtures (the books) build before any test's own folders exist."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMBALANCED_CONTRASTIVE_DATA", str(tmp_path_factory.mktemp("session-cache")))
        mp.setenv("IMBALANCED_CONTRASTIVE_RUNS", str(tmp_path_factory.mktemp("session-runs")))
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Point the user cache and the runs folder at empty folders so tests never read or fill a
    developer's (notebook kernels started by a test inherit them)."""
    monkeypatch.setenv("IMBALANCED_CONTRASTIVE_DATA", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("IMBALANCED_CONTRASTIVE_RUNS", str(tmp_path_factory.mktemp("runs")))


def fake_images(n: int, h: int = 28, w: int = 28, c: int | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n, h, w) if c is None else (n, h, w, c)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def seconds_until(executed: dict, text: str) -> float:
    """Seconds from the start of a papermill-executed notebook to the end of the first cell whose
    output holds ``text`` (papermill's timing metadata)."""
    cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    start = datetime.fromisoformat(cells[0]["metadata"]["papermill"]["start_time"].rstrip("Z"))
    for cell in cells:
        if text in json.dumps(cell.get("outputs", []), ensure_ascii=False):
            end = datetime.fromisoformat(cell["metadata"]["papermill"]["end_time"].rstrip("Z"))
            return (end - start).total_seconds()
    raise AssertionError(f"no cell printed {text!r}")


# The books, each executed once per session (tests/books.py says which test reads which); every
# test that reads one is slow (`make test-fast` skips them).
BOOKS = {"default_book", "smoke_book", "built_site"}


def pytest_collection_modifyitems(items):
    for item in items:
        if BOOKS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def default_book(tmp_path_factory, real_fmnist_dir) -> tuple[Path, list[Path]]:
    """(checkout copy, executed notebooks) of the book a reader gets: see books.execute_default_book."""
    from books import execute_default_book

    root = tmp_path_factory.mktemp("default")
    return root, execute_default_book(root)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, real_fmnist_dir) -> tuple[Path, list[Path]]:
    """(checkout copy, executed notebooks) of the smoke book: see books.execute_smoke_book."""
    from books import execute_smoke_book

    root = tmp_path_factory.mktemp("smoke")
    return root, execute_smoke_book(root)


@pytest.fixture(scope="session")
def built_site(default_book) -> tuple[Path, Path]:
    """(checkout copy, HTML folder) of the site a reader gets: the default book, built strictly."""
    from books import build_site

    root, _ = default_book
    return root, build_site(root)


@pytest.fixture(scope="session")
def fmnist_test_labels(real_fmnist_dir) -> np.ndarray:
    """The real Fashion-MNIST test labels (10,000, in the files' order), read and checked once."""
    from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist

    _, test = load_fashion_mnist(real_fmnist_dir)
    return test.labels.numpy()
