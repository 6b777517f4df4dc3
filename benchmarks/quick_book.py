"""Where the quick book's time goes: one quick run per recipe, phase by phase, and the whole
notebooks command, notebook by notebook.

    python benchmarks/quick_book.py                  # both parts (about 10 minutes on 2 CPU cores)
    python benchmarks/quick_book.py --runs           # one quick run per recipe only
    python benchmarks/quick_book.py --notebooks      # the notebooks command only (``make execute``)
    python benchmarks/quick_book.py --runs --seeds 0 1 2 --methods ce balanced_softmax bcl

Every run trains from scratch into a temporary runs folder (nothing is read from or written to a
cache), so two invocations on the same machine compare like with like. The phases of a run are
timed by wrapping the library's own functions for the duration of the run (nothing is
reimplemented):

* ``data``: building the imbalanced splits (reading Fashion-MNIST, subsampling);
* ``views``: augmented views of every training batch;
* ``fwd+opt``: the rest of the training steps (forward pass, loss, optimiser step);
* ``backward``: backpropagation;
* ``eval``: test-set evaluations during training;
* ``stage2``: the two-stage recipe's linear classifier (its feature pass and its training);
* ``final``: the final evaluation and the embedding sample kept for the figures;
* ``umap``: one 2-D UMAP of that sample, as a chapter draws it.

The notebooks part runs ``tools/build_book.py``'s ``execute_notebooks`` (what ``make execute``
runs) into a temporary folder and also times papermill executing an empty notebook (the kernel's
start-up, paid once per chapter). Not a test: it prints tables.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from imbalanced_contrastive.cli import parse_setting
from imbalanced_contrastive.provenance import git_commit

ROOT = Path(__file__).resolve().parents[1]
REPRESENTATIVE = ["ce", "balanced_softmax", "afcl", "bcl", "rescom"]
"""One method per recipe family, plus the strongest classifier baseline."""

PHASES = ("data", "views", "fwd+opt", "backward", "eval", "stage2", "final", "umap")


class PhaseTimer:
    """Sums wall time per phase; :meth:`wrap` times every call of a function under a phase name
    (nested calls of timed functions are counted once, in the outermost phase)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, phase: str, fn: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - t0
                self._depth -= 1

        return timed


@contextlib.contextmanager
def timed_phases(timer: PhaseTimer) -> Iterator[None]:
    """Wrap the library's functions of each phase in ``timer`` (restored on exit)."""
    from imbalanced_contrastive.training import loop, recipes, runner

    patches = [
        (runner, "splits_for", "data"),
        (loop, "plan_epoch", "views"),
        (loop, "apply_views", "views"),
        (loop, "evaluate", "eval"),
        (torch.Tensor, "backward", "backward"),
        (recipes, "map_dataset", "stage2"),
        (runner, "map_dataset", "final"),
        (runner, "sample_embeddings", "final"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches] + [(recipes, "fit", recipes.fit)]
    fit, calls = recipes.fit, []

    def staged_fit(*args: Any, **kwargs: Any) -> Any:
        # a recipe's second call of the loop is the two-stage recipe's stage 2: timed as a whole
        calls.append(1)
        return timer.wrap("stage2", fit)(*args, **kwargs) if len(calls) > 1 else fit(*args, **kwargs)

    try:
        for owner, name, phase in patches:
            setattr(owner, name, timer.wrap(phase, getattr(owner, name)))
        recipes.fit = staged_fit
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def profile_run(
    method: str, seed: int, runs_root: Path, overrides: dict[str, Any], profile: str = "quick"
) -> dict[str, Any]:
    """Train one run of ``method`` from scratch; returns its phase times and metrics."""
    from imbalanced_contrastive.training import make_config, run_experiment
    from imbalanced_contrastive.viz import umap_embed

    config = make_config(method, profile, "fmnist", seed=seed, **overrides)
    timer = PhaseTimer()
    t0 = time.perf_counter()
    with timed_phases(timer):
        record = run_experiment(config, cache=False, runs_root=runs_root, progress=False)
    total = time.perf_counter() - t0
    stage1 = sum(h["time_s"] for h in record.history if h.get("stage") == 1)
    s = timer.seconds
    # stage 1's epoch times hold its views, backward passes and evaluations, timed above
    s["fwd+opt"] = stage1 - s["views"] - s["backward"] - s["eval"]
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value")  # a seeded UMAP runs on one thread
        umap_embed(record.embeddings, seed=seed)
    s["umap"] = time.perf_counter() - t1
    few = record.metrics.get("few")
    return {
        "method": method,
        "seed": seed,
        "total": total,
        **{p: s.get(p, 0.0) for p in PHASES},
        "balanced": 100 * record.metrics["balanced_accuracy"],
        "few": None if few is None else 100 * few,
        "record": record,
    }


def print_header() -> None:
    print(
        f"{'method':<17} {'seed':>4} " + " ".join(f"{p:>8}" for p in PHASES) + f" {'run':>7} {'bal.acc':>8} {'few':>6}"
    )


def print_row(r: dict[str, Any]) -> None:
    few = "-" if r["few"] is None else f"{r['few']:.1f}"
    print(
        f"{r['method']:<17} {r['seed']:>4} "
        + " ".join(f"{r[p]:>8.1f}" for p in PHASES)
        + f" {r['total']:>7.1f} {r['balanced']:>8.1f} {few:>6}",
        flush=True,
    )


def print_over_seeds(records: list, title: str) -> None:
    """Mean ± standard deviation over seeds of the Fashion-MNIST step-imbalance runs among
    ``records`` that have several seeds (the book's summary table: ``summarize``, ``summary_frame``)."""
    from imbalanced_contrastive.chapter import summary_frame
    from imbalanced_contrastive.results_table import summarize

    rows = [
        r for r in summarize(records) if r["dataset"] == "fmnist" and r["imbalance"] == "step" and len(r["seeds"]) > 1
    ]
    if rows:
        rows.sort(key=lambda r: -r["balanced_accuracy_mean"])
        print(f"\n{title}, mean ± sd over seeds (balanced acc %, few recall %, many recall %)")
        print(summary_frame(rows, ("balanced_accuracy", "few", "many")).frame.to_string())


def time_notebooks(names: list[str] | None, profile: str = "quick") -> None:
    """Execute the book's notebooks into a temporary folder, from an empty runs folder, and print
    each notebook's time, the total and papermill's start-up time."""
    import nbformat
    import papermill as pm

    sys.path.insert(0, str(ROOT / "tools"))
    from build_book import NOTEBOOKS, execute_notebooks

    with tempfile.TemporaryDirectory(prefix="quick-book-") as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("1")]
        nbformat.write(nb, empty)
        t0 = time.perf_counter()
        pm.execute_notebook(str(empty), str(Path(tmp) / "out.ipynb"), progress_bar=False, kernel_name="python3")
        startup = time.perf_counter() - t0
        times: dict[str, float] = {}
        t_all = time.perf_counter()
        for name in names or NOTEBOOKS:
            t0 = time.perf_counter()
            execute_notebooks(profile, root=ROOT, output_dir=Path(tmp) / "out", names=[name])
            times[name] = time.perf_counter() - t0
        total = time.perf_counter() - t_all
        from imbalanced_contrastive.results_table import find_records

        print_over_seeds(find_records(Path(tmp) / "out" / "runs"), "the benchmark's runs")
    print(f"\nthe notebooks command ({profile} profile, empty runs folder), seconds")
    for name, t in times.items():
        print(f"  {name:<24} {t:>7.1f}")
    print(f"  {'total':<24} {total:>7.1f}  ({total / 60:.1f} min)")
    print(f"  papermill start-up of an empty notebook: {startup:.1f} s (paid once per notebook)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", action="store_true", help="time one quick run per recipe")
    parser.add_argument(
        "--notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="time the notebooks command (all notebooks, or the ones named)",
    )
    parser.add_argument("--methods", nargs="+", default=REPRESENTATIVE, help=f"default: {' '.join(REPRESENTATIVE)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--profile", default="quick", help="quick (default) or smoke (a check that the script works)")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        type=parse_setting,
        help="config overrides for the runs, as in the CLI's train --set, e.g. epochs=12",
    )
    args = parser.parse_args(argv)
    both = not args.runs and args.notebooks is None
    overrides = dict(args.set)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, commit {git_commit() or '?'}")
    if args.runs or both:
        extra = f", with {' '.join(f'{k}={v!r}' for k, v in overrides.items())}" if overrides else ""
        print(f"\none {args.profile} run per recipe (fmnist, trained from scratch{extra}), seconds per phase")
        print_header()
        rows = []
        with tempfile.TemporaryDirectory(prefix="quick-runs-") as tmp:
            for method in args.methods:
                for seed in args.seeds:
                    rows.append(profile_run(method, seed, Path(tmp), overrides, args.profile))
                    print_row(rows[-1])
        print_over_seeds([r["record"] for r in rows], f"the {args.profile} runs above")
    if args.notebooks is not None or both:
        time_notebooks(args.notebooks or None, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
