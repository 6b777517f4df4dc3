"""The numbers beside the embedding pictures (k-NN recall, class-mean cosines) and the explorer."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch

from imbalanced_contrastive.evaluation import class_mean_cosines, knn_by_group, knn_correct
from imbalanced_contrastive.explorer import EXPLORER_CLASS, embedding_explorer, explorer_data, thumbnails
from imbalanced_contrastive.records import RunRecord

CLASSES = ["a", "b", "c", "d"]


def _record(seed: int = 0, indices=None, noise: float = 0.05, n: int = 40) -> RunRecord:
    g = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n // 4)
    centres = np.eye(4, 8)
    emb = centres[labels] + noise * g.standard_normal((n, 8))
    preds = labels.copy()
    preds[:3] = (labels[:3] + 1) % 4
    return RunRecord(
        config={"method": "ce", "seed": seed},
        metrics={"groups": {"many": [0, 1], "medium": [], "few": [2, 3]}},
        provenance={"classes": CLASSES},
        embeddings=emb.astype(np.float16),
        embedding_labels=labels,
        embedding_indices=np.arange(n) * 2 if indices is None else indices,
        embedding_predictions=preds,
    )


def test_knn_separates_clusters_and_fails_on_noise():
    rec = _record()
    assert bool(
        knn_correct(
            torch.as_tensor(rec.embeddings, dtype=torch.float32), torch.as_tensor(rec.embedding_labels), 5
        ).all()
    )
    by_group = knn_by_group(rec, k=5)
    assert by_group == {"all": 1.0, "many": 1.0, "medium": None, "few": 1.0}
    noise = torch.randn(400, 16, generator=torch.Generator().manual_seed(0))
    chance = knn_correct(noise, torch.arange(400) % 4, k=10).float().mean()
    assert 0.1 < chance < 0.4
    with pytest.raises(ValueError, match="k must be in"):
        knn_correct(noise, torch.arange(400) % 4, k=400)


def test_class_mean_cosines_of_a_regular_simplex():
    labels = torch.arange(4).repeat(5)
    cos = class_mean_cosines(torch.eye(4)[labels], labels, 5)  # class 4 absent
    off = cos[:4, :4][~torch.eye(4, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, -1 / 3), atol=1e-6)
    assert torch.isnan(cos[4]).all() and torch.allclose(cos[:4, :4].diagonal(), torch.ones(4))


def test_thumbnails_are_png_data_uris():
    uris = thumbnails(np.zeros((2, 1, 8, 8), dtype=np.uint8))
    assert len(uris) == 2 and all(u.startswith("data:image/png;base64,") for u in uris)
    with pytest.raises(ValueError, match="uint8"):
        thumbnails(np.zeros((1, 8, 8), dtype=np.float32))


def test_explorer_data_holds_image_class_and_prediction_of_every_point():
    images = np.arange(80 * 28 * 28, dtype=np.int64).reshape(80, 1, 28, 28).astype(np.uint8)
    shared, runs = explorer_data({"CE": _record(0), "BCL": _record(1)}, images, CLASSES)
    assert len(shared["image"]) == len(shared["true"]) == 40 and shared["true"][:2] == ["a", "a"]
    assert set(runs) == {"CE", "BCL"}
    for run in runs.values():
        assert len(run["x"]) == len(run["y"]) == len(run["predicted"]) == 40
        assert run["predicted"][0] == "b" and run["correct"][:4] == ["no", "no", "no", "yes"]
    with pytest.raises(ValueError, match="other test images"):
        explorer_data({"CE": _record(0), "BCL": _record(1, indices=np.arange(40))}, images, CLASSES)
    old = _record(0)
    old.embedding_indices = None
    with pytest.raises(ValueError, match="older than release 0.4.0"):
        explorer_data({"CE": old}, images, CLASSES)


def test_explorer_is_one_self_contained_document():
    images = np.zeros((80, 1, 28, 28), dtype=np.uint8)
    explorer = embedding_explorer({"CE": _record(0), "BCL": _record(1)}, images, CLASSES, title="t")
    page = explorer._repr_html_()
    assert page.startswith(f'<iframe class="{EXPLORER_CLASS}"') and explorer.runs == ["CE", "BCL"]
    doc = html.unescape(re.search(r'srcdoc="(.*?)"', page, re.S).group(1))
    assert "Bokeh" in doc and not re.search(r"<script[^>]+src=", doc), "Bokeh's JavaScript is inlined, no CDN"
    assert "run (loss)" in doc and "@image" in doc


def test_umap_keeps_its_compiled_functions_for_the_next_kernel(monkeypatch):
    """Each chapter's kernel is a new process: every numba function of umap-learn and pynndescent
    must keep what it compiles on disk (viz._cache_umap_compilation), or each chapter compiles
    them again (about 10 s a kernel on the 2-core machine)."""
    import sys

    import umap  # noqa: F401 - the modules whose functions are checked
    from numba.core.registry import CPUDispatcher

    from imbalanced_contrastive.viz import _cache_umap_compilation

    _cache_umap_compilation()
    modules = [m for n, m in list(sys.modules.items()) if m and n.split(".")[0] in ("umap", "pynndescent")]
    functions = [
        f for m in modules for f in vars(m).values() if isinstance(f, CPUDispatcher) and f.__module__ == m.__name__
    ]
    assert len(functions) > 100, f"only {len(functions)} numba functions found in umap-learn and pynndescent"
    uncached = [f.__name__ for f in functions if type(f._cache).__name__ == "NullCache"]
    assert not uncached, f"these compile afresh in every kernel: {uncached[:10]}"
    assert _cache_umap_compilation() == 0, "a second call finds nothing left to enable"

    import imbalanced_contrastive.viz as viz

    class Asked(Exception):
        pass

    def asked():
        raise Asked

    monkeypatch.setattr(viz, "_cache_umap_compilation", asked)
    with pytest.raises(Asked):  # every UMAP asks for it before it fits
        viz.umap_embed(np.eye(8, dtype=np.float32), seed=123)
