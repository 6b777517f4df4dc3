"""Figures: sample grids, class-count bars, training curves (matplotlib + seaborn), and
:func:`show_figure`, which saves a figure and shows it with a caption and alt text."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.patches import Patch

from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset

GROUP_COLORS = {"many": "#1b9e77", "medium": "#d95f02", "few": "#7570b3"}


def show_figure(fig: plt.Figure, path: str | Path, caption: str, alt: str | None = None, dpi: int = 120) -> None:
    """Save ``fig`` as a PNG and show it as a captioned figure with alt text; closes ``fig``.
    Returns nothing, so a notebook cell that ends with it prints nothing under the figure.

    The output carries both an HTML ``<figure>`` (image with ``alt``, ``<figcaption>``), which
    Jupyter, Colab and the book render, and the plain PNG, for viewers without HTML.

    Args:
        fig: the figure.
        path: where the PNG goes (folders are created).
        caption: one or two sentences saying what the figure shows.
        alt: the text read out instead of the image (default: the caption).
        dpi: resolution of the PNG.
    """
    from IPython.display import display

    if not caption.strip():
        raise ValueError("caption must say what the figure shows; got an empty string")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(path.read_bytes()).decode("ascii")
    figure = (
        f'<figure style="margin: 0"><img src="data:image/png;base64,{png}" alt="{html.escape(alt or caption)}" '
        f'style="max-width: 100%"/><figcaption>{html.escape(caption)}</figcaption></figure>'
    )
    display({"text/html": figure, "image/png": png}, raw=True)


def plot_sample_grid(data: ImageArrayDataset, per_class: int = 8, seed: int = 0, ax_size: float = 0.9) -> plt.Figure:
    """A grid with one row per class and ``per_class`` random examples of it."""
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(
        data.num_classes, per_class, figsize=(per_class * ax_size, data.num_classes * ax_size), squeeze=False
    )
    for c in range(data.num_classes):
        idx = torch.nonzero(data.labels == c).flatten()
        pick = idx[torch.randperm(len(idx), generator=g)[:per_class]]
        for j in range(per_class):
            ax = axes[c, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(pick):
                img = data.images[pick[j]].permute(1, 2, 0).numpy()
                ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
            if j == 0:
                ax.set_ylabel(data.classes[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{data.name}: {per_class} random training images per class")
    fig.tight_layout()
    return fig


def plot_class_counts(splits: DataSplits, log_scale: bool = False) -> plt.Figure:
    """Training samples per class, coloured by many/medium/few group."""
    counts = splits.class_counts.numpy()
    groups = splits.groups.group_of_class
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(counts)), 3.5))
    colors = [GROUP_COLORS[g] for g in groups]
    ax.bar(np.arange(len(counts)), counts, color=colors)
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xticklabels(splits.classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("training samples")
    if log_scale:
        ax.set_yscale("log")
    many, few = splits.groups.many_threshold, splits.groups.few_threshold
    rule = {"many": f"n > {many}", "medium": f"{few} <= n <= {many}", "few": f"n < {few}"}
    handles = [Patch(color=GROUP_COLORS[g], label=f"{g} ({rule[g]})") for g in GROUP_COLORS if g in groups]
    ax.legend(handles=handles, frameon=False, fontsize=8)
    d = splits.description
    ax.set_title(f"{d.get('dataset', '')}: imbalance={d.get('imbalance')}, ratio={d.get('ratio')}")
    sns.despine(fig)
    fig.tight_layout()
    return fig


def classes_and_groups(record) -> tuple[list[str], list[str]]:
    """Class names and the many/medium/few group of each class, from a run record."""
    classes = list(record.provenance["classes"])
    group_of = {c: g for g, members in record.metrics["groups"].items() for c in members}
    return classes, [group_of[c] for c in range(len(classes))]


_UMAP_CACHE: dict[tuple, np.ndarray] = {}
"""UMAPs computed in this process, by the embeddings' bytes and the UMAP settings (a chapter's
figure and its explorer map the same samples once)."""


def umap_embed(embeddings: np.ndarray, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """2-D UMAP (McInnes et al. 2018) of unit-norm embeddings; ``random_state`` makes it repeatable
    (and single-threaded). Computed once per process for the same embeddings and settings.

    Returns:
        Shape: ``[M, 2]``.
    """
    import hashlib

    arr = np.ascontiguousarray(embeddings, dtype=np.float32)
    key = (hashlib.sha1(arr.tobytes()).hexdigest(), arr.shape, seed, n_neighbors, min_dist)
    if key not in _UMAP_CACHE:
        _UMAP_CACHE[key] = _umap(arr, seed, n_neighbors, min_dist)
    return _UMAP_CACHE[key].copy()


def _cache_umap_compilation() -> int:
    """Let numba keep what it compiles for umap-learn and pynndescent on disk (``__pycache__`` beside
    their sources, or numba's user cache where that is read-only), as it does for their functions
    declared ``cache=True``: the first UMAP of every new process (each chapter's kernel) otherwise
    compiles the same functions again, about 10 s of its 12 (measured on the 2-core machine, 1,000
    points: 11.6 s, then 1.6 s once compiled). numba keys the cache on each source file, so an
    upgraded umap-learn compiles afresh.

    Returns:
        How many compiled functions now cache (0 when they already did).
    """
    import sys

    from numba.core.registry import CPUDispatcher

    enabled = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("umap", "pynndescent"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and value.__module__ == name:
                if type(value._cache).__name__ == "NullCache":
                    value.enable_caching()
                    enabled += 1
    return enabled


def _umap(embeddings: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray:
    import warnings

    import umap

    _cache_umap_compilation()

    # 200 optimisation epochs instead of umap-learn's 500 for small data, for speed (a page shows up to a
    # dozen maps; the numbers beside them, k-NN recall and class-mean cosines, use the embeddings, not the map)
    reducer = umap.UMAP(
        n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, metric="cosine", random_state=seed, n_epochs=200
    )
    with warnings.catch_warnings():  # a seeded UMAP runs on one thread, as intended: no need to say so
        warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
        return reducer.fit_transform(np.asarray(embeddings, dtype=np.float32))


def plot_umap_grid(
    records: dict,
    classes: Sequence[str] | None = None,
    group_of_class: Sequence[str] | None = None,
    seed: int = 0,
    point_size: float = 6.0,
) -> plt.Figure:
    """UMAP of each run's test-embedding sample, one run per row: coloured by class (left) and by
    many / medium / few group (right), with the legends once, beside the first row. ``records``
    maps a title to a :class:`RunRecord`; classes and groups default to the first record's."""
    names = list(records)
    if classes is None or group_of_class is None:
        classes, group_of_class = classes_and_groups(records[names[0]])
    fig, axes = plt.subplots(len(names), 2, figsize=(10.5, 4.3 * len(names)), squeeze=False)
    palette = sns.color_palette("tab10" if len(classes) <= 10 else "husl", len(classes))
    for i, name in enumerate(names):
        rec = records[name]
        xy = umap_embed(rec.embeddings, seed=seed)
        labels = np.asarray(rec.embedding_labels)
        groups = np.array([group_of_class[int(c)] for c in labels])
        for c in np.unique(labels):
            m = labels == c
            axes[i, 0].scatter(
                xy[m, 0], xy[m, 1], s=point_size, color=palette[int(c)], label=classes[int(c)], alpha=0.8
            )
        for g, col in GROUP_COLORS.items():
            m = groups == g
            if m.any():
                axes[i, 1].scatter(xy[m, 0], xy[m, 1], s=point_size, color=col, label=g, alpha=0.8)
        bal = rec.metrics.get("balanced_accuracy")
        title = f"{name}: balanced accuracy {100 * bal:.1f} %" if bal is not None else name
        axes[i, 0].set_title(title + " (by class)", fontsize=11, loc="left")
        axes[i, 1].set_title("by group", fontsize=11, loc="left")
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].legend(
        loc="upper left", bbox_to_anchor=(-0.02, -0.01), ncol=5, fontsize=9, markerscale=2.5, frameon=False
    )
    axes[0, 1].legend(loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=3, fontsize=9, markerscale=2.5, frameon=False)
    fig.tight_layout(h_pad=4.0)
    return fig


def plot_cosine_matrices(records: dict, classes: Sequence[str] | None = None) -> plt.Figure:
    """Cosine similarity between the centred class means of each run's embedding sample, one heat
    map per run (:func:`~imbalanced_contrastive.evaluation.class_mean_cosines`; BCL's argument:
    balanced features put them on a regular simplex, every off-diagonal entry ``-1/(C-1)``);
    classes default to the first record's."""
    from imbalanced_contrastive.evaluation import class_mean_cosines

    names = list(records)
    if classes is None:
        classes = list(records[names[0]].provenance["classes"])
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols, 3.7 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        rec = records[name]
        cos = class_mean_cosines(
            torch.as_tensor(rec.embeddings, dtype=torch.float32), torch.as_tensor(rec.embedding_labels), len(classes)
        )
        im = ax.imshow(cos.numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_title(name, fontsize=11)
        ax.set_xticks(range(len(classes)))
        ax.set_yticks(range(len(classes)))
        ax.set_xticklabels([c[:7] for c in classes], rotation=90, fontsize=7)
        ax.set_yticklabels([c[:7] for c in classes], fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.8, label="cosine of the centred class means")
    return fig


def plot_per_class_accuracy(
    records: dict, classes: Sequence[str] | None = None, group_of_class: Sequence[str] | None = None
) -> plt.Figure:
    """Per-class test accuracy of several runs as grouped bars; class labels coloured by group."""
    names = list(records)
    if classes is None or group_of_class is None:
        classes, group_of_class = classes_and_groups(records[names[0]])
    c = len(classes)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(9, 0.8 * c), 4.2))
    # the runs' colours leave out green and purple, the colours of the groups' class names
    deep = sns.color_palette("deep", 10)
    colors = [deep[i % 10] for i in (0, 1, 3, 5, 6, 7, 8, 9)]
    for k, name in enumerate(names):
        acc = [a if a is not None else np.nan for a in records[name].metrics["per_class"]]
        ax.bar(np.arange(c) + (k - (len(names) - 1) / 2) * width, acc, width, label=name, color=colors[k % len(colors)])
    ax.set_xticks(np.arange(c))
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=8)
    for tick, g in zip(ax.get_xticklabels(), group_of_class, strict=True):
        tick.set_color(GROUP_COLORS[g])
    ax.set_ylabel("test accuracy (recall)")
    ax.set_ylim(0, 1)
    bars, _ = ax.get_legend_handles_labels()
    present = [g for g in GROUP_COLORS if g in group_of_class]
    groups = [Patch(color=GROUP_COLORS[g], label=f"class name in {g}") for g in present]
    ax.legend(
        handles=bars + groups,
        fontsize=9,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        title="runs; groups",
        title_fontsize=9,
    )
    sns.despine(fig)
    fig.tight_layout()
    return fig


def prediction_rates(record) -> np.ndarray:
    """How often a run predicts each class on the test sample its record keeps: ``[C]`` fractions
    (the sample's predictions, :attr:`~imbalanced_contrastive.records.RunRecord.embedding_predictions`)."""
    if record.embedding_predictions is None:
        raise ValueError("the record keeps no predictions of its test sample (made before release 0.4.0)")
    c = len(record.provenance["classes"])
    return np.bincount(np.asarray(record.embedding_predictions), minlength=c)[:c] / len(record.embedding_predictions)


def plot_prediction_rates(records: dict, train_counts: Sequence[int]) -> plt.Figure:
    """Per class: the share of the training set (the prior the classifier learns) and how often each
    run predicts the class on the (balanced) test sample; a classifier without bias towards the
    prior predicts every class 1/C of the time (the dashed line)."""
    names = list(records)
    classes, group_of_class = classes_and_groups(records[names[0]])
    c = len(classes)
    prior = np.asarray(train_counts, dtype=float) / float(sum(train_counts))
    width = 0.8 / (len(names) + 1)
    fig, ax = plt.subplots(figsize=(max(9, 0.8 * c), 4.2))
    ax.bar(np.arange(c) - 0.4 + width / 2, prior, width, color="#bbbbbb", label="training prior")
    deep = sns.color_palette("deep", 10)
    colors = [deep[i % 10] for i in (0, 1, 3, 5, 6, 7, 8, 9)]
    for k, name in enumerate(names):
        ax.bar(
            np.arange(c) - 0.4 + (k + 1.5) * width,
            prediction_rates(records[name]),
            width,
            color=colors[k % len(colors)],
            label=f"predicted by {name}",
        )
    ax.axhline(1 / c, color="k", ls="--", lw=1)
    ax.text(c - 0.5, 1 / c, " 1/C", va="bottom", ha="right", fontsize=8)
    ax.set_xticks(np.arange(c))
    ax.set_xticklabels(classes, rotation=45, ha="right", fontsize=8)
    for tick, g in zip(ax.get_xticklabels(), group_of_class, strict=True):
        tick.set_color(GROUP_COLORS[g])
    ax.set_ylabel("share of images")
    ax.legend(fontsize=9, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    sns.despine(fig)
    fig.tight_layout()
    return fig


def plot_benchmark(rows: Sequence[dict], baseline: str = "ce") -> plt.Figure:
    """The benchmark at a glance: (left) balanced accuracy and *few* recall of every method, mean
    and standard deviation over seeds in %, grouped and coloured by family, with the baseline's
    mean as a dashed line; (right) the many-versus-few trade-off, one point per method.

    Args:
        rows: summary rows of one dataset and profile (:func:`~imbalanced_contrastive.results_table.summarize`).
        baseline: the reference method (its means are drawn as lines).
    """
    from imbalanced_contrastive.results_table import FAMILY_COLORS, family_of, order_by_family

    rows = order_by_family(rows)
    if not rows:
        raise ValueError("rows must hold at least one summary row")
    fig, axes = plt.subplots(
        1, 3, figsize=(12, 0.42 * len(rows) + 1.9), gridspec_kw={"width_ratios": [1, 1, 1.15]}, squeeze=False
    )
    y = np.arange(len(rows))
    colors = [FAMILY_COLORS[family_of(r["method"])] for r in rows]
    base = next((r for r in rows if r["method"] == baseline), None)

    def pct(r: dict, key: str, part: str) -> float:
        v = r.get(f"{key}_{part}")
        return np.nan if v is None else 100 * v

    for ax, key, title in zip(
        axes[0, :2], ("balanced_accuracy", "few"), ("balanced accuracy (%)", "few: minority recall (%)"), strict=True
    ):
        means = np.array([pct(r, key, "mean") for r in rows])
        stds = np.nan_to_num(np.array([pct(r, key, "std") for r in rows]))
        for i in range(len(rows)):
            ax.errorbar(means[i], y[i], xerr=stds[i], fmt="o", color=colors[i], ms=6, capsize=3, lw=1.5)
        if base is not None and base.get(f"{key}_mean") is not None:
            ax.axvline(pct(base, key, "mean"), color="0.4", ls="--", lw=1)
        finite = means[np.isfinite(means)]
        if finite.size:
            lo, hi = np.nanmin(means - stds), np.nanmax(means + stds)
            pad = max(1.0, 0.08 * (hi - lo))
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_title(title, fontsize=11)
        ax.set_yticks(y)
        ax.grid(axis="x", color="0.9")
        ax.tick_params(labelsize=10)
    axes[0, 0].set_yticklabels([r["method"] for r in rows], fontsize=10)
    axes[0, 1].set_yticklabels([])
    for ax in axes[0, :2]:
        ax.invert_yaxis()
    ax = axes[0, 2]
    for r, color in zip(rows, colors, strict=True):
        ax.errorbar(
            pct(r, "many", "mean"),
            pct(r, "few", "mean"),
            xerr=np.nan_to_num(pct(r, "many", "std")),
            yerr=np.nan_to_num(pct(r, "few", "std")),
            fmt="o",
            color=color,
            ms=6,
            capsize=2,
            lw=1,
        )
        ax.annotate(
            r["method"],
            (pct(r, "many", "mean"), pct(r, "few", "mean")),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_xlabel("many: majority recall (%)", fontsize=10)
    ax.set_ylabel("few: minority recall (%)", fontsize=10)
    ax.set_title("the trade-off", fontsize=11)
    ax.grid(color="0.9")
    families = list(dict.fromkeys(family_of(r["method"]) for r in rows))
    handles = [Patch(color=FAMILY_COLORS[f], label=f) for f in families]
    if base is not None:
        handles.append(plt.Line2D([], [], color="0.4", ls="--", label=f"{baseline} (reference)"))
    fig.legend(
        handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=10, bbox_to_anchor=(0.5, -0.01)
    )
    sns.despine(fig)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_pair_masks(labels, n_views: int = 2, classes: Sequence[str] | None = None) -> plt.Figure:
    """Positive (green) / negative (grey) / self (white) pairs of a multi-view batch."""
    y = torch.as_tensor(labels).repeat(n_views)
    n = len(y)
    same = (y.unsqueeze(0) == y.unsqueeze(1)).numpy()
    img = np.where(same, 1.0, 0.35)
    np.fill_diagonal(img, 0.0)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(img, cmap="Greens", vmin=0, vmax=1)
    names = [classes[int(c)] if classes else str(int(c)) for c in y]
    ax.set_xticks(range(n))
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_yticks(range(n))
    ax.set_yticklabels(names, fontsize=6)
    ax.set_title(f"{n} views of {len(labels)} images: positives (dark), negatives (light), self (white)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_temperature(similarities: np.ndarray, temperatures: Sequence[float] = (0.05, 0.1, 0.5, 1.0)) -> plt.Figure:
    """Softmax weight of each contrast sample for several temperatures (similarities sorted)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    s = np.asarray(similarities, dtype=np.float64)
    for t in temperatures:
        w = np.exp((s - s.max()) / t)
        ax.plot(w / w.sum(), marker=".", label=f"τ = {t}")
    ax.set_xlabel("contrast samples, most similar first")
    ax.set_ylabel("softmax weight")
    ax.legend(frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig
