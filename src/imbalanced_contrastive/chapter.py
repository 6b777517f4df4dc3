"""What a chapter of the book needs from the library, so that notebooks hold narrative,
parameters, calls and figures only.

A :class:`Chapter` is made once, right after a notebook's parameters: it checks the profile, keeps
the settings every run of the chapter shares, builds configs (:meth:`Chapter.config`), runs them
through the shared runs folder (:meth:`Chapter.run`; cached, so re-running a notebook loads its
runs), shows results (:meth:`Chapter.table`, :func:`summary_frame`, :func:`comparison_frame`) and saves and shows
figures
with a caption and alt text (:meth:`Chapter.figure`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.results_table import METRICS, compare_with, records_frame
from imbalanced_contrastive.training.config import ExperimentConfig, make_config, overrides_from
from imbalanced_contrastive.training.profiles import check_profile
from imbalanced_contrastive.training.runner import run_all
from imbalanced_contrastive.viz import show_figure


class Chapter:
    """One chapter's runs and figures.

    Args:
        name: the chapter's short name (its figures go to ``<output_dir>/figures/<name>``).
        profile: ``smoke``, ``quick`` or ``paper``.
        dataset: the dataset every run of the chapter uses.
        output_dir: where figures (and tables) go.
        datasets: the datasets the chapter is written for (``None``: any).
        **settings: settings every run shares (config fields or loss parameters); ``None`` values
            keep the profile's value, so notebook parameters left at ``None`` can be passed as they are.

    Raises:
        ValueError: an unknown profile, or a dataset the chapter is not written for (before
            anything runs).
    """

    def __init__(
        self,
        name: str,
        profile: str,
        dataset: str = "fmnist",
        output_dir: str | Path = ".",
        datasets: tuple[str, ...] | None = None,
        **settings: Any,
    ) -> None:
        if datasets is not None and dataset not in datasets:
            raise ValueError(f"dataset must be one of {datasets} in this chapter; got {dataset!r}")
        self.name, self.profile, self.dataset = name, check_profile(profile), dataset
        self.settings = overrides_from(**settings)
        self.figures = Path(output_dir) / "figures" / name
        self.figures.mkdir(parents=True, exist_ok=True)

    def config(self, method: str, **settings: Any) -> ExperimentConfig:
        """The config of ``method`` with the chapter's settings and ``settings`` (``None`` values
        skipped); validated, so a wrong value fails here, before anything trains."""
        return make_config(method, self.profile, self.dataset, **{**self.settings, **overrides_from(**settings)})

    def run(self, configs: dict[str, ExperimentConfig]) -> dict[str, RunRecord]:
        """Train (or load from the shared runs folder) every config; ``{name: record}`` in order."""
        return run_all(configs)

    @staticmethod
    def table(records: dict[str, RunRecord]):
        """A DataFrame of named runs: accuracy, balanced accuracy, many/medium/few (in %), time."""
        return records_frame(records)

    def figure(self, fig: plt.Figure, file: str, caption: str, alt: str | None = None) -> Path:
        """Save ``fig`` as ``<figures>/<file>`` and show it with ``caption`` (and ``alt`` text)."""
        return show_figure(fig, self.figures / file, caption, alt)


def summary_frame(rows: Iterable[dict], metrics: Iterable[str] = METRICS):
    """A DataFrame of summary rows (:func:`~imbalanced_contrastive.results_table.summarize`):
    one row per method and settings, each metric as ``mean ± std`` in % over the seeds."""
    import pandas as pd

    def cell(row: dict, metric: str) -> str:
        mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
        if mean is None:
            return "–"
        return f"{100 * mean:.1f} ± {100 * std:.1f}" if std is not None else f"{100 * mean:.1f}"

    return pd.DataFrame(
        [
            {
                "method": r["method"],
                "settings": r["settings"],
                "seeds": len(r["seeds"]),
                **{m: cell(r, m) for m in metrics},
            }
            for r in rows
        ]
    ).set_index(["method", "settings"])


def comparison_frame(rows: Iterable[dict], baseline: str, metrics: Iterable[str] = ("balanced_accuracy", "few")):
    """A DataFrame: each method's difference from ``baseline`` in points of % per metric, and
    whether it exceeds seed noise (Welch's test over the seeds,
    :func:`~imbalanced_contrastive.results_table.compare_with`)."""
    import pandas as pd

    rows = list(rows)
    columns = {}
    for metric in metrics:
        for r in compare_with(rows, baseline, metric):
            entry = columns.setdefault((r["method"], r["settings"]), {})
            entry[f"{metric} Δ"] = f"{r['difference']:+.1f}"
            entry[f"{metric} vs {baseline}"] = f"{r['verdict']} (p={r['p_value']:.3f})"
    frame = pd.DataFrame.from_dict(columns, orient="index")
    frame.index.names = ["method", "settings"]
    return frame
