"""What each committed run of the ``full`` profile costs: its training time on the machine that made
it (the records' ``wall_time_s``) and its bytes in ``results/`` (``record.json`` and the embedding
sample), page by page as ``grid.committed_grid()`` lists them.

    python benchmarks/committed_costs.py            # the Markdown table of benchmarks/README.md

The table in ``benchmarks/README.md`` is this script's output (``tests/test_benchmarks.py`` checks
it), so the costs stated there are the committed records'.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from imbalanced_contrastive.committed import FILES, results_root, run_folder  # noqa: E402
from imbalanced_contrastive.grid import committed_grid  # noqa: E402
from imbalanced_contrastive.records import RunRecord  # noqa: E402

START = "<!-- committed_costs.py: start -->"
END = "<!-- committed_costs.py: end -->"
"""The markers around the table in ``benchmarks/README.md``."""


def _page(name: str) -> str:
    """The page a run of :func:`committed_grid` belongs to (its name's prefix, else the benchmark)."""
    return name.split(":", 1)[0] if ":" in name else "benchmark"


def cost_table(results: Path | None = None) -> str:
    """The Markdown table: one row per run (seeds 0-2 in one row), its page, embedding sample,
    training seconds per seed and kilobytes; then the totals."""
    root = Path(results) if results is not None else results_root()
    rows: dict[tuple[str, str], dict] = defaultdict(lambda: {"seconds": [], "bytes": 0, "points": set()})
    for name, config in committed_grid("full", "fmnist").items():
        folder = root / run_folder(config)
        record = RunRecord.load(folder)
        label = name.split(":", 1)[-1].strip().rsplit(" seed ", 1)[0]
        row = rows[(_page(name), f"{label} (`{run_folder(config).split('/')[2]}`)")]
        row["seconds"].append(f"{record.wall_time_s:.0f}")
        row["bytes"] += sum((folder / f).stat().st_size for f in FILES if (folder / f).is_file())
        row["points"].add(len(record.embedding_indices))
    lines = [
        "| page | run (folder) | embeddings per seed | training s per seed | KB (all seeds) |",
        "|---|---|---|---|---|",
    ]
    total_bytes = 0
    for (page, run), row in rows.items():
        total_bytes += row["bytes"]
        points = ", ".join(str(p) for p in sorted(row["points"]))
        lines.append(f"| {page} | {run} | {points} | {' / '.join(row['seconds'])} | {row['bytes'] / 1000:,.0f} |")
    n_runs = sum(len(row["seconds"]) for row in rows.values())
    lines.append(f"| all | {n_runs} runs | | | {total_bytes / 1000:,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(cost_table())
