"""Committed run records: runs trained once, committed under ``results/`` and loaded by everyone.

The ``full`` profile's benchmark grid (and, where a GPU made them, ``paper`` runs) is trained once by
``make grid`` (:func:`train_grid`) and committed as ``results/<dataset>/<profile>/<run>/seed<k>/``
with ``record.json`` and a compact ``embeddings.npz`` (float16, at most ``embed_points`` test
images, their row indices and the model's predictions). ``<run>`` is the method's name when the run
has the profile's settings, else the method and a short hash of what differs (:func:`run_folder`).

Where the records are read from (:func:`locate`), in order:

1. ``$IMBALANCED_CONTRASTIVE_RESULTS`` when it is set;
2. the checkout's ``results/`` (an editable install or a clone: the tests, ``make book``, a clone
   in Colab);
3. the user cache, ``~/.cache/imbalanced_contrastive/results/<tag>/`` (:func:`download_root`), where a record missing
   from both is downloaded from the tagged release (:data:`RESULTS_URL_ENV` overrides the address)
   and checked against the SHA-256 of :data:`MANIFEST`, the package's list of committed files.

A chapter in a committed profile loads its configs' records (:func:`load_records`) and never trains
them unless asked; a config without a committed record raises :class:`MissingRecordsError`, which
lists the missing runs and the command that makes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from imbalanced_contrastive._meta import RELEASE_TAG, REPOSITORY_URL
from imbalanced_contrastive.records import EMBEDDING_FILE, RECORD_FILE, CorruptRecordError, RunRecord
from imbalanced_contrastive.training.config import CONFIG_FIELDS, NOT_SETTINGS, ExperimentConfig, make_config

RESULTS_ENV = "IMBALANCED_CONTRASTIVE_RESULTS"
"""Environment variable: a results folder read first (and written by ``make grid`` when set)."""

RESULTS_URL_ENV = "IMBALANCED_CONTRASTIVE_RESULTS_URL"
"""Environment variable: where missing committed files are downloaded from (default :func:`results_url`)."""

CHECKOUT_RESULTS = Path(__file__).resolve().parents[2] / "results"
"""The checkout's ``results/`` folder (exists in a clone or an editable install, not in a wheel)."""

MANIFEST = Path(__file__).with_name("results_manifest.json")
"""The committed files, ``{path under results/: sha256}``; written by :func:`write_manifest`."""

FILES = (RECORD_FILE, EMBEDDING_FILE)
"""The files of a committed run (never checkpoints)."""

GRID_COMMAND = "python -m imbalanced_contrastive grid --profile {profile}"
"""How the missing records of a profile's grid are made (shown by :class:`MissingRecordsError`)."""

RESERVED = ("recipe", "loss", "cache_key", "world_size", "notes")
"""Keys of a record's config that the library adds to the config's fields."""


GRID_METHODS = ("ce", "focal", "balanced_softmax", "cl", "fcl", "acl", "afcl", "bcl", "rcl", "rescom")
"""The benchmark's methods (the benchmark chapter's ``methods``): what ``make grid`` trains."""

GRID_SEEDS = (0, 1, 2)
"""The benchmark's seeds."""

PRIOR_STAGE2_METHODS = ("cl", "acl")
"""The two-stage methods the benchmark also trains with a Balanced Softmax stage 2 (the
benchmark chapter's ``prior_stage2``): the experiment that separates representation from classifier."""

PRIOR_STAGE2 = {"stage2_loss": "balanced_softmax", "embed_points": 100}
"""What those runs change: the stage-2 loss, and a smaller embedding sample (their encoder is the
plain run's, whose record holds the full sample; this keeps ``results/`` small). Neither touches
stage 1, which they share with the plain run (:data:`~imbalanced_contrastive.training.recipes.STAGE2_FIELDS`)."""

PRIOR_STAGE2_LABEL = " + Balanced Softmax stage 2"
"""How their names read (``cl + Balanced Softmax stage 2 seed 0``)."""


class MissingRecordsError(FileNotFoundError):
    """Configs of a committed profile have no committed record; the message lists them and the
    command that makes them."""


def results_url() -> str:
    """The base address of the committed ``results/`` of this release (its git tag)."""
    env = os.environ.get(RESULTS_URL_ENV)
    if env:
        return env.rstrip("/")
    owner_repo = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{owner_repo}/{RELEASE_TAG}/results"


def download_root() -> Path:
    """Where missing committed files are downloaded to: the user cache, per release
    (:func:`~imbalanced_contrastive.data.files.cache_dir`)."""
    from imbalanced_contrastive.data.files import cache_dir

    return cache_dir() / "results" / RELEASE_TAG


def results_root() -> Path:
    """The folder ``make grid`` writes: ``$IMBALANCED_CONTRASTIVE_RESULTS``, else the checkout's ``results/``."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env).expanduser() if env else CHECKOUT_RESULTS


def _roots() -> list[Path]:
    env = os.environ.get(RESULTS_ENV)
    roots = [Path(env).expanduser()] if env else []
    return [*roots, CHECKOUT_RESULTS, download_root()]


def settings_of(config: dict[str, Any] | ExperimentConfig) -> dict[str, Any]:
    """What makes a run this run: its config fields without the data/hardware ones
    (:data:`~imbalanced_contrastive.training.config.NOT_SETTINGS`), as JSON values (a version bump
    alone changes none of them)."""
    d = config.to_dict() if isinstance(config, ExperimentConfig) else config
    return json.loads(json.dumps({k: d.get(k) for k in CONFIG_FIELDS if k not in NOT_SETTINGS}, default=str))


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The settings in which two :func:`settings_of` dicts differ, as ``name: a != b``."""
    return [f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def overrides_of(config: ExperimentConfig) -> dict[str, Any]:
    """The settings in which ``config`` differs from its profile's config of the same method and
    seed (what ``--set`` changed), as JSON values."""
    default = settings_of(make_config(config.method, config.profile, config.dataset, seed=config.seed))
    own = settings_of(config)
    return {k: own[k] for k in sorted(own) if own[k] != default.get(k)}


def run_folder(config: ExperimentConfig) -> str:
    """``<dataset>/<profile>/<run>/seed<k>`` of a config under ``results/``; ``<run>`` is the method
    when the config has its profile's settings, else ``<method>-<8 hex digits of what differs>``
    (:func:`overrides_of`)."""
    changed = overrides_of(config)
    run = config.method
    if changed:
        run += "-" + hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
    return f"{config.dataset}/{config.profile}/{run}/seed{config.seed}"


def read_manifest() -> dict[str, str]:
    """The package's list of committed files, ``{path under results/: sha256}`` (empty if none)."""
    if not MANIFEST.is_file():
        return {}
    return json.loads(MANIFEST.read_text())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def committed_files(root: Path) -> dict[str, str]:
    """Every committed file under ``root`` (``record.json`` and ``embeddings.npz`` of each run) with its SHA-256."""
    return {
        p.relative_to(root).as_posix(): sha256_of(p) for name in FILES for p in sorted(root.glob(f"*/*/*/seed*/{name}"))
    }


def write_manifest(root: Path | None = None) -> dict[str, str]:
    """Rewrite :data:`MANIFEST` from the committed files under ``root`` (default the checkout's)."""
    files = committed_files(root or results_root())
    MANIFEST.write_text(json.dumps(dict(sorted(files.items())), indent=1) + "\n")
    return files


def _download(rel: str, sha: str) -> Path:
    target = download_root() / rel
    url = f"{results_url()}/{rel}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as err:
        raise MissingRecordsError(f"downloading the committed file {url} failed ({err})") from err
    if hashlib.sha256(data).hexdigest() != sha:
        raise CorruptRecordError(f"the download of {url} does not have the checksum of the release's manifest")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def locate(folder: str) -> Path | None:
    """The directory holding the committed run ``folder`` (``<dataset>/<profile>/<run>/seed<k>``):
    found locally, or downloaded into the user cache when the release's manifest lists it; ``None``
    when the release has no such record."""
    for root in _roots():
        if (root / folder / RECORD_FILE).is_file():
            return root / folder
    manifest = read_manifest()
    wanted = [f"{folder}/{name}" for name in FILES if f"{folder}/{name}" in manifest]
    if f"{folder}/{RECORD_FILE}" not in wanted:
        return None
    for rel in wanted:
        _download(rel, manifest[rel])
    return download_root() / folder


def load_committed(config: ExperimentConfig) -> RunRecord:
    """The committed record of ``config``.

    Raises:
        MissingRecordsError: no record is committed for it (the message names the folder).
        CorruptRecordError: the record was made with other settings than ``config``'s (named).
    """
    folder = run_folder(config)
    where = locate(folder)
    if where is None:
        raise MissingRecordsError(f"no committed record {folder}")
    record = RunRecord.load(where)
    diff = differences(settings_of(record.config), settings_of(config))
    if diff:
        raise CorruptRecordError(f"the committed record {where} was made with other settings: {'; '.join(diff)}")
    return record


def grid_command(config: ExperimentConfig) -> str:
    """The command that makes ``config``'s committed record (``--set`` for each setting that differs
    from its profile's)."""
    sets = "".join(f" --set {k}={v!r}" for k, v in overrides_of(config).items())
    return (
        f"python -m imbalanced_contrastive grid --profile {config.profile} --dataset {config.dataset} "
        f"--methods {config.method} --seeds {config.seed}{sets}"
    )


def load_records(configs: dict[str, ExperimentConfig]) -> dict[str, RunRecord]:
    """The committed records of ``configs`` (``{name: record}`` in order).

    Raises:
        MissingRecordsError: listing every config without a committed record and the command that
            makes it (nothing is trained).
    """
    out, missing = {}, []
    for name, config in configs.items():
        try:
            out[name] = load_committed(config)
        except MissingRecordsError as err:
            missing.append(f"  {name}: {err}; make it with\n      {grid_command(config)}")
    if missing:
        profiles = sorted({c.profile for c in configs.values()})
        whole = "; ".join(GRID_COMMAND.format(profile=p) for p in profiles)
        raise MissingRecordsError(
            f"{len(missing)} of {len(configs)} runs have no committed record (looked in "
            f"{', '.join(map(str, _roots()))} and the release's manifest):\n" + "\n".join(missing) + "\n"
            f"the benchmark grid of a profile: {whole}; or train them here with the chapter's parameter train=True."
        )
    return out


def grid_configs(
    profile: str, dataset: str, methods: Iterable[str], seeds: Iterable[int], label: str = "", **settings: Any
) -> dict[str, ExperimentConfig]:
    """The configs of a grid, ``{"<method><label> seed <k>": config}``, seeds outer (an interrupted grid
    has every method of its first seeds)."""
    methods, seeds = list(methods), list(seeds)
    return {
        f"{m}{label} seed {s}": make_config(m, profile, dataset, seed=s, **settings) for s in seeds for m in methods
    }


def benchmark_configs(profile: str, dataset: str, seeds: Iterable[int] = GRID_SEEDS, **settings: Any):
    """The whole benchmark of a profile, what ``make grid`` trains: :data:`GRID_METHODS` and the
    Balanced Softmax stage-2 runs of :data:`PRIOR_STAGE2_METHODS`, seed by seed."""
    out: dict[str, ExperimentConfig] = {}
    for s in seeds:
        out.update(grid_configs(profile, dataset, GRID_METHODS, [s], **settings))
        out.update(
            grid_configs(profile, dataset, PRIOR_STAGE2_METHODS, [s], PRIOR_STAGE2_LABEL, **settings, **PRIOR_STAGE2)
        )
    return out


def train_grid(
    configs: dict[str, ExperimentConfig],
    results: Path | None = None,
    runs_root: Path | None = None,
    allow_dirty: bool = False,
) -> dict[str, str]:
    """Train the configs that have no record under ``results`` and commit-ready copies of their records.

    Resumable: a run whose record is in ``results`` with the config's settings is kept; an
    interrupted run resumes from its checkpoints in the runs folder. One progress line per run.

    Args:
        configs: from :func:`grid_configs`.
        results: the results folder (default :func:`results_root`).
        runs_root: the runs folder of the training (default the shared one).
        allow_dirty: write records made from a source tree with uncommitted changes (they may not
            be committed: the test of the committed records refuses them).

    Returns:
        ``{name: "kept" | "trained"}``.

    Raises:
        RuntimeError: the source tree has uncommitted changes and ``allow_dirty`` is false.
    """
    import time

    from imbalanced_contrastive.provenance import git_commit
    from imbalanced_contrastive.training.runner import run_experiment

    root = Path(results) if results is not None else results_root()
    commit = git_commit()
    if commit is not None and commit.endswith("-dirty") and not allow_dirty:
        raise RuntimeError(
            "the source tree has uncommitted changes: records for results/ are made from a clean commit "
            "(commit or stash them, or pass --allow-dirty for records you will not commit)"
        )
    done: dict[str, str] = {}
    for i, (name, config) in enumerate(configs.items(), start=1):
        target = root / run_folder(config)
        kept = None
        if (target / RECORD_FILE).is_file():
            try:
                kept = RunRecord.load(target)
            except CorruptRecordError:
                kept = None
        if kept is not None and not differences(settings_of(kept.config), settings_of(config)):
            done[name] = "kept"
            print(f"grid {i}/{len(configs)} {name}: kept {target}", flush=True)
            continue
        t0 = time.perf_counter()
        record = run_experiment(config, runs_root=runs_root, progress=False)
        if str(record.provenance.get("git_commit")).endswith("-dirty") and not allow_dirty:
            # cached in the runs folder from a tree with uncommitted changes: trained again
            record = run_experiment(config, cache=False, runs_root=runs_root, progress=False)
        record.provenance["overrides"] = overrides_of(config)  # what the grid's --set changed (the test remakes it)
        record.save(target, embedding_dtype="float16")
        done[name] = "trained"
        print(
            f"grid {i}/{len(configs)} {name}: trained in {time.perf_counter() - t0:.0f} s, balanced accuracy "
            f"{100 * record.metrics['balanced_accuracy']:.1f} %, few {100 * (record.metrics.get('few') or 0):.1f} % "
            f"-> {target}",
            flush=True,
        )
    return done
