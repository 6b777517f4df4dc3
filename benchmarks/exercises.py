"""The runs the chapters' exercises ask for, measured once so that every solution can state its outcome.

    python benchmarks/exercises.py              # quick profile, seeds 0-2, into benchmarks/exercises.json
    python benchmarks/exercises.py --seeds 0    # a faster look (one seed: no test)

Each exercise compares a chapter's run with the change the exercise asks for, over the seeds, on
balanced accuracy and minority (few) recall, by the book's noise rule (Welch over the seeds, Holm
across the exercise's tests; :mod:`imbalanced_contrastive.significance`). The solutions quote the
JSON this writes (``tests/test_notebook_sources.py`` checks that they do). Runs are cached in
``--runs-root`` (default: a folder under the system's temporary directory).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import date
from pathlib import Path

from imbalanced_contrastive import __version__
from imbalanced_contrastive.provenance import provenance
from imbalanced_contrastive.results_table import summarize
from imbalanced_contrastive.significance import compare
from imbalanced_contrastive.training import make_config, run_all

OUT = Path(__file__).with_name("exercises.json")
LONG_TAIL = {"imbalance": "long_tail", "ratio": 100.0, "minority_classes": []}
RCL_OFF = {"balance_strength": 0.0, "feature_scale": 1.0, "margin": 0.0}

EXERCISES: dict[str, dict] = {
    "primer: temperature 0.5": {
        "chapter": "01_primer",
        "method": "supcon",
        "runs": {"temperature 0.1": {"temperature": 0.1}, "temperature 0.5": {"temperature": 0.5}},
    },
    "acl: eta under the paper normalisation": {
        "chapter": "02_acl_fmnist",
        "method": "acl",
        "runs": {
            "official, eta 100": {"eta": 100.0},
            "paper, eta 10": {"eta": 10.0, "normalization": "paper"},
            "paper, eta 100": {"eta": 100.0, "normalization": "paper"},
            "paper, eta 300": {"eta": 300.0, "normalization": "paper"},
        },
    },
    "bcl: no class-averaging": {
        "chapter": "04_bcl_rcl",
        "method": "rcl",
        "runs": {
            "BCL": {**LONG_TAIL, **RCL_OFF},
            "BCL without class-averaging": {**LONG_TAIL, **RCL_OFF, "class_averaging": False},
        },
    },
    "rescom: no mining": {
        "chapter": "05_rescom",
        "method": "rescom",
        "runs": {"ResCom": {**LONG_TAIL}, "ResCom, every queue key": {**LONG_TAIL, "hard_negatives": 9 * 20}},
    },
}
"""Each exercise: its chapter, the method, and the runs it compares (the first is the chapter's own)."""


def measure(name: str, spec: dict, seeds: list[int], profile: str, runs_root: Path) -> dict:
    """Train (or load) an exercise's runs over ``seeds`` and test each run against the first."""
    configs, labels = {}, {}
    for run, per_seed in exercise_configs(name, profile, seeds).items():
        for config in per_seed:
            configs[f"{run} seed {config.seed}"] = config
            labels[config.cache_key()] = run
    records = run_all(configs, runs_root=runs_root, progress=False)
    rows = []
    for run in spec["runs"]:  # one summary row per run of the exercise, named by the exercise
        (row,) = summarize([r for r in records.values() if labels[r.config["cache_key"]] == run])
        rows.append({**row, "label": run})
    first = next(iter(spec["runs"]))
    tests = compare(rows, [(label, first) for label in spec["runs"] if label != first], ["balanced_accuracy", "few"])
    made = {run: [r for r in records.values() if labels[r.config["cache_key"]] == run] for run in spec["runs"]}
    return {
        "chapter": spec["chapter"],
        "seconds": round(sum(r.wall_time_s for r in records.values())),  # the records' training time
        "runs": {
            row["label"]: {
                "seeds": row["seeds"],
                **{f"{m}_{s}": row[f"{m}_{s}"] for m in ("balanced_accuracy", "few", "many") for s in ("mean", "std")},
                "records": [record_provenance(r) for r in made[row["label"]]],
            }
            for row in rows
        },
        "tests": [
            {
                "run": c.label,
                "against": c.against,
                "metric": c.metric,
                "difference": round(c.difference, 1),
                "p_holm": c.p_holm,
                "verdict": c.verdict,
            }
            for c in tests
        ],
    }


def record_provenance(record) -> dict:
    """What names one run behind an exercise: its seed and cache key (the current settings must
    still give it, tests/test_benchmarks.py), the commit, release, device and date that made it,
    and its training time."""
    prov = record.provenance
    return {
        "seed": record.config["seed"],
        "cache_key": record.config["cache_key"],
        "commit": prov.get("git_commit"),
        "release": prov.get("package_version"),
        "device": prov.get("device"),
        "date": prov.get("date"),
        "seconds": round(record.wall_time_s, 1),
    }


def exercise_configs(name: str, profile: str, seeds: list[int]) -> dict[str, list]:
    """The configs of exercise ``name``'s runs under the current settings, per run, by seed."""
    spec = EXERCISES[name]
    return {
        run: [make_config(spec["method"], profile, seed=seed, **settings) for seed in seeds]
        for run, settings in spec["runs"].items()
    }


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARKER = re.compile(r"(<!-- exercise: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- /exercise -->)", re.S)


def outcome(name: str, measured: dict) -> str:
    """The measured outcome of exercise ``name`` as a solution states it (from ``exercises.json``)."""
    ex = measured["exercises"][name]
    seeds = ", ".join(map(str, next(iter(ex["runs"].values()))["seeds"]))
    metric_names = {"balanced_accuracy": "balanced accuracy", "few": "minority (few) recall"}
    lines = [
        f"Measured with `benchmarks/exercises.py` ({measured['profile']} profile, release {measured['release']}, "
        f"seeds {seeds}, commit "
        f"{str(measured['commit'])[:7]}, {measured['device']}), each change against the chapter's run:",
        "",
    ]
    for t in ex["tests"]:
        p = "p < 0.001" if t["p_holm"] < 0.001 else f"p = {t['p_holm']:.3f}"
        lines.append(
            f"* {t['run']} against {t['against']}: {metric_names[t['metric']]} {t['difference']:+.1f} points "
            f"({t['verdict']}, Holm {p})."
        )
    beyond = [t for t in ex["tests"] if t["verdict"] != "within noise"]
    lines.append("")
    if beyond:
        lines.append(
            "Beyond the seed noise: "
            + "; ".join(f"{t['run']} on {metric_names[t['metric']]} ({t['verdict']})" for t in beyond)
            + "; the other differences are within it."
        )
    else:
        lines.append(
            "None of these differences is beyond the seed noise (the book's rule): with three seeds the runs cannot "
            "tell the change from the chapter's run, whichever way the means point."
        )
    return "\n".join(lines) + "\n"


def update_notebooks(measured: dict, folder: Path = NOTEBOOKS) -> list[Path]:
    """Write each exercise's measured outcome between its markers in the chapters' sources."""
    changed = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text()
        new = MARKER.sub(lambda m: m.group(1) + outcome(m.group("name"), measured) + m.group(4), text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--runs-root", type=Path, default=Path(tempfile.gettempdir()) / "exercise-runs")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--update-notebooks", action="store_true", help="only write the outcomes of --out into the chapters' solutions"
    )
    args = parser.parse_args(argv)
    if args.update_notebooks:
        for path in update_notebooks(json.loads(args.out.read_text())):
            print(f"updated {path}")
        return
    results = {}
    for name, spec in EXERCISES.items():
        print(f"{name}: {len(spec['runs'])} runs x {len(args.seeds)} seeds", flush=True)
        results[name] = measure(name, spec, args.seeds, args.profile, args.runs_root)
        for t in results[name]["tests"]:
            print(f"  {t['run']} vs {t['against']}, {t['metric']}: {t['difference']:+.1f} points, {t['verdict']}")
    import torch

    prov = provenance(torch.device("cpu"))
    args.out.write_text(
        json.dumps(
            {
                "profile": args.profile,
                "release": __version__,
                "commit": prov.get("git_commit"),
                "device": prov.get("device"),
                "date": date.today().isoformat(),
                "exercises": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}; `python benchmarks/exercises.py --update-notebooks` writes it into the solutions")


if __name__ == "__main__":
    main()
