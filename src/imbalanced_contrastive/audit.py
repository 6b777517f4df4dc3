"""The audit of the committed records (issue #31): every number they state, recomputed; every
record traced to a commit of this repository; the manifest's checksums; the README's sentences
about them. ``python -m imbalanced_contrastive audit`` prints one line per problem and exits 1
when there is any."""

from __future__ import annotations

import datetime
import math
import re
import subprocess
from pathlib import Path

from imbalanced_contrastive.committed import CHECKOUT_RESULTS, committed_files, read_manifest
from imbalanced_contrastive.evaluation import metrics_from_confusion
from imbalanced_contrastive.records import RunRecord

TOLERANCE = 1e-9
"""How far a stated metric may be from the one recomputed from the confusion matrix (float
rounding only: the record's values are computed from that matrix)."""

README = CHECKOUT_RESULTS.parent / "README.md"


def _same(stated: float | None, computed: float | None) -> bool:
    if stated is None or computed is None:
        return stated is computed
    return math.isclose(stated, computed, rel_tol=0, abs_tol=TOLERANCE)


def record_problems(record: RunRecord, name: str, repository: Path | None = None) -> list[str]:
    """What is wrong with one committed record: its metrics against its confusion matrix, its
    provenance (a clean commit that exists in ``repository``'s history and is not younger than the
    record), its embedding sample against its predictions' classes.

    Args:
        record: the loaded record.
        name: how the problems name it (its folder under results/).
        repository: a git checkout to find the commits in (``None``: commits are not looked up).
    """
    problems = []
    m = record.metrics
    again = metrics_from_confusion(m["confusion"], {g: list(c) for g, c in m.get("groups", {}).items()})
    for key in ("accuracy", "balanced_accuracy", "many", "medium", "few"):
        if not _same(m.get(key), again.get(key)):
            problems.append(f"{name}: {key} is {m.get(key)}, its confusion matrix gives {again.get(key)}")
    if not all(_same(a, b) for a, b in zip(m["per_class"], again["per_class"], strict=True)):
        problems.append(f"{name}: per_class differs from its confusion matrix")
    prov = record.provenance
    commit = str(prov.get("git_commit"))
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        problems.append(f"{name}: not made from a clean commit (git_commit {commit!r})")
    elif repository is not None:
        made = _commit_date(repository, commit)
        if made is None:
            problems.append(f"{name}: commit {commit[:12]} is not in this repository's history")
        elif _parse(prov.get("date")) is None or _parse(prov["date"]) < made:
            problems.append(
                f"{name}: dated {prov.get('date')}, before its commit {commit[:12]} ({made:%Y-%m-%dT%H:%M:%SZ})"
            )
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(prov.get("package_version"))):
        problems.append(f"{name}: no release in its provenance ({prov.get('package_version')!r})")
    classes = len(prov.get("classes", []))
    if len(record.embedding_predictions) and (record.embedding_predictions.max() >= classes):
        problems.append(f"{name}: its embedding sample predicts a class beyond its {classes}")
    return problems


def manifest_problems(root: Path | None = None) -> list[str]:
    """The committed files against the package's manifest (their SHA-256)."""
    root = root or CHECKOUT_RESULTS
    listed, found = read_manifest(), committed_files(root)
    problems = [f"{rel}: in results/ but not in the manifest" for rel in sorted(set(found) - set(listed))]
    problems += [f"{rel}: in the manifest but not in results/" for rel in sorted(set(listed) - set(found))]
    problems += [
        f"{rel}: its checksum is not the manifest's"
        for rel in sorted(set(found) & set(listed))
        if found[rel] != listed[rel]
    ]
    return problems


def readme_statements(records: list[RunRecord]) -> list[str]:
    """The README's sentences about the committed full-profile records, computed from them: the
    best of every committed config on step-imbalanced data, how many are within noise of it (the
    book's one rule), cross-entropy's value, and the full schedule's check on the balanced set."""
    from imbalanced_contrastive.results_table import format_mean_std, summarize
    from imbalanced_contrastive.significance import compare, label_of

    full = [r for r in records if r.config["profile"] == "full" and r.config["dataset"] == "fmnist"]
    rows = summarize([r for r in full if r.config["imbalance"] == "step"])
    best = max(rows, key=lambda r: r["balanced_accuracy_mean"])
    others = [r for r in rows if r is not best]
    tests = compare(rows, [(label_of(best), label_of(r)) for r in others], ["balanced_accuracy"])
    within = sum(t.verdict == "within noise" for t in tests)
    ce = next(r for r in rows if label_of(r) == "ce")

    def mean_std(row) -> str:
        return f"{format_mean_std(row['balanced_accuracy_mean'], row['balanced_accuracy_std'])} %"

    statements = [
        f"of the {len(rows)} configs committed on step-imbalanced Fashion-MNIST, the best is "
        f"**{label_of(best)} {mean_std(best)}**",
        f"{within} of the {len(others)} others are within noise of it (Welch, Holm across the {len(tests)} tests)",
        f"cross-entropy reaches {mean_std(ce)}",
    ]
    balanced = [r for r in full if r.config["imbalance"] == "none"]
    statements += [f"{100 * r.metrics['balanced_accuracy']:.2f} %" for r in balanced]
    return statements


def readme_problems(records: list[RunRecord], readme: Path = README) -> list[str]:
    """Each statement of :func:`readme_statements` that the README does not make."""
    if not readme.is_file():
        return []  # an installed package has no README to check
    text = readme.read_text()
    return [f"README.md does not say: {s!r}" for s in readme_statements(records) if s not in text]


def audit(root: Path | None = None, repository: Path | None = None) -> list[str]:
    """Every problem of the committed records under ``root`` (default the checkout's results/)."""
    root = root or CHECKOUT_RESULTS
    problems, records = [], []
    for path in sorted(root.rglob("record.json")):
        name = path.parent.relative_to(root).as_posix()
        try:
            record = RunRecord.load(path.parent)
        except Exception as error:  # a record that cannot be read is one problem, not a crash
            problems.append(f"{name}: cannot be read ({error})")
            continue
        records.append(record)
        problems += record_problems(record, name, repository)
    return problems + manifest_problems(root) + readme_problems(records)


def _commit_date(repository: Path, commit: str) -> datetime.datetime | None:
    done = subprocess.run(
        ["git", "show", "-s", "--format=%cI", f"{commit}^{{commit}}"],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return _parse(done.stdout.strip()) if done.returncode == 0 else None


def _parse(stamp: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).astimezone(datetime.UTC)
    except ValueError:
        return None
