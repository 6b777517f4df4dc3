"""The embedding explorer: an interactive UMAP of runs' test embeddings (Bokeh).

Hover a point to see its test image, its true class and the model's prediction; choose the run
(the loss) in a menu; zoom and pan with the mouse. The explorer is one self-contained HTML document
(Bokeh's JavaScript inlined, ``bokeh.resources.INLINE``) shown in an ``<iframe srcdoc>``: it works in
the static book without a kernel and offline (no script from a CDN), in Jupyter and in Colab.

Bokeh, not Plotly or Altair: its hover tooltips take HTML (the test image), its inlined bundle
(about 1.5 MB) is a third of Plotly's, and Altair needs Vega from a CDN or a converter to run offline.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from imbalanced_contrastive.records import RunRecord

EXPLORER_CLASS = "embedding-explorer"
"""The CSS class of the explorer's ``<iframe>`` (the book's tests find it by it)."""


def thumbnails(images: np.ndarray) -> list[str]:
    """PNG data URIs of images.

    Args:
        images: ``uint8``. Shape: ``[M, H, W]`` (grey) or ``[M, C, H, W]`` (``C`` = 1 or 3).
    """
    from PIL import Image

    arr = np.asarray(images)
    if arr.ndim == 4:
        arr = arr[:, 0] if arr.shape[1] == 1 else np.moveaxis(arr, 1, -1)
    if arr.dtype != np.uint8:
        raise ValueError(f"images must be uint8; got {arr.dtype}")
    out = []
    for img in arr:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG", optimize=True)
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    return out


def explorer_data(
    records: dict[str, RunRecord], images: np.ndarray, classes: list[str], seed: int = 0
) -> tuple[dict[str, list], dict[str, dict[str, list]]]:
    """The explorer's data: the points shared by every run (image, true class) and each run's own
    (UMAP coordinates, prediction, whether it is right).

    Args:
        records: ``{title: record}``, each with an embedding sample, its test-split indices and
            predictions (records of release 0.4.0 or later); every sample must be of the same test images.
        images: the test split's images (``uint8``), indexed by the records' ``embedding_indices``.
        classes: the class names.
        seed: the UMAP seed.

    Returns:
        ``(shared, runs)``: ``shared`` has ``image``, ``true`` (lists of length M); ``runs`` maps
        each title to ``x``, ``y``, ``predicted``, ``correct``.

    Raises:
        ValueError: a record without indices or predictions, or samples of different images.
    """
    from imbalanced_contrastive.viz import umap_embed

    if not records:
        raise ValueError("records must hold at least one run")
    first = None
    for name, rec in records.items():
        if rec.embedding_indices is None or rec.embedding_predictions is None:
            raise ValueError(f"run {name!r} has no test indices or predictions (a record older than release 0.4.0)")
        if first is None:
            first = np.asarray(rec.embedding_indices)
        elif not np.array_equal(first, rec.embedding_indices):
            raise ValueError(f"run {name!r} samples other test images than the first run (use one seed)")
    labels = np.asarray(next(iter(records.values())).embedding_labels)
    shared = {"image": thumbnails(np.asarray(images)[first]), "true": [classes[int(c)] for c in labels]}
    runs = {}
    for name, rec in records.items():
        xy = umap_embed(np.asarray(rec.embeddings, dtype=np.float32), seed=seed)
        pred = np.asarray(rec.embedding_predictions)
        runs[name] = {
            "x": [round(float(v), 3) for v in xy[:, 0]],
            "y": [round(float(v), 3) for v in xy[:, 1]],
            "predicted": [classes[int(c)] for c in pred],
            "correct": ["yes" if p == t else "no" for p, t in zip(pred, labels, strict=True)],
        }
    return shared, runs


TOOLTIP = """
<div style="display:flex;gap:6px;align-items:center">
  <img src="@image" width="56" height="56" style="image-rendering:pixelated;border:1px solid #ccc">
  <div style="font-size:12px">true: <b>@true</b><br>predicted: <b>@predicted</b><br>right: @correct</div>
</div>
"""


def explorer_document(
    shared: dict[str, list], runs: dict[str, dict[str, list]], classes: list[str], title: str, size: int = 560
) -> str:
    """A standalone HTML document of the explorer (Bokeh's JavaScript inlined)."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, Legend, LegendItem, Select
    from bokeh.palettes import Category10_10, Turbo256
    from bokeh.plotting import figure
    from bokeh.resources import INLINE
    from bokeh.transform import factor_cmap

    names = list(runs)
    first = names[0]
    source = ColumnDataSource({**shared, **runs[first]})
    store = ColumnDataSource({f"{n}|{k}": v for n in names for k, v in runs[n].items()})
    palette = (
        list(Category10_10) if len(classes) <= 10 else [Turbo256[int(i)] for i in np.linspace(0, 255, len(classes))]
    )
    fig = figure(
        width=size,
        height=size,
        title=f"{first}: hover a point for its image; drag to pan, scroll to zoom",
        tools="pan,wheel_zoom,box_zoom,reset",
        active_scroll="wheel_zoom",
        toolbar_location="above",
    )
    renderer = fig.scatter(
        "x",
        "y",
        source=source,
        size=5,
        alpha=0.75,
        color=factor_cmap("true", palette=palette[: len(classes)], factors=list(classes)),
    )
    fig.add_tools(HoverTool(renderers=[renderer], tooltips=TOOLTIP))
    legend = Legend(
        items=[
            LegendItem(label=c, renderers=[renderer], index=shared["true"].index(c))
            for c in classes
            if c in shared["true"]
        ],
        location="top_left",
        label_text_font_size="11px",
    )
    fig.add_layout(legend, "right")
    fig.xaxis.visible = fig.yaxis.visible = False
    menu = Select(title="run (loss)", value=first, options=names, width=260)
    menu.js_on_change(
        "value",
        CustomJS(
            args=dict(source=source, store=store, fig=fig),
            code="""
            const run = this.value, d = Object.assign({}, source.data);
            for (const k of ["x", "y", "predicted", "correct"]) d[k] = store.data[run + "|" + k];
            source.data = d;
            fig.title.text = run + ": hover a point for its image; drag to pan, scroll to zoom";
            """,
        ),
    )
    return file_html(column(menu, fig), INLINE, title)


def embedding_explorer(
    records: dict[str, RunRecord],
    images: np.ndarray,
    classes: list[str],
    title: str = "Embedding explorer",
    seed: int = 0,
):
    """The explorer as a displayable :class:`Explorer` (an ``<iframe srcdoc>``).

    Args:
        records, images, classes, seed: as in :func:`explorer_data`.
        title: the document's title.
    """
    shared, runs = explorer_data(records, images, classes, seed=seed)
    return Explorer(explorer_document(shared, runs, classes, title), title, list(runs))


class Explorer:
    """A displayable explorer: Jupyter, Colab and the book show its HTML (an ``<iframe srcdoc>``
    holding the standalone document).

    Attributes:
        document: the standalone HTML document (Bokeh's JavaScript inlined).
        title: its title.
        runs: the runs its menu switches between.
    """

    def __init__(self, document: str, title: str, runs: list[str]) -> None:
        self.document, self.title, self.runs = document, title, runs

    def _repr_html_(self) -> str:
        return (
            f'<iframe class="{EXPLORER_CLASS}" title="{html.escape(self.title)}" srcdoc="{html.escape(self.document)}" '
            'style="width:100%;max-width:860px;height:660px;border:0"></iframe>'
        )

    def __repr__(self) -> str:
        return f"{self.title}: {len(self.runs)} runs ({', '.join(self.runs)}); shown as HTML"


def test_images_of(record: RunRecord, data_dir: str | None = None, download: bool = False) -> np.ndarray:
    """The test split a record was evaluated on, as ``uint8`` images ``[N, C, H, W]`` (the split is
    rebuilt from the record's settings; ``data_dir`` and ``download`` say where the data come from)."""
    from imbalanced_contrastive.training.config import CONFIG_FIELDS, ExperimentConfig
    from imbalanced_contrastive.training.runner import splits_for

    fields = {k: v for k, v in record.config.items() if k in CONFIG_FIELDS}
    config = ExperimentConfig(**{**fields, "data_dir": data_dir, "download": download, "device": "cpu"})
    return splits_for(config).test.images.numpy()


def explorer_for(
    records: dict[str, RunRecord],
    data_dir: str | None = None,
    download: bool = False,
    title: str = "Embedding explorer",
    seed: int = 0,
):
    """:func:`embedding_explorer` of ``records``, with the test images and class names of the first
    record (whose test split is rebuilt: :func:`test_images_of`)."""
    first = next(iter(records.values()))
    images = test_images_of(first, data_dir, download)
    return embedding_explorer(records, images, list(first.provenance["classes"]), title=title, seed=seed)
