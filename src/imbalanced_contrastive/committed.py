"""Committed run records: runs trained once, committed under ``results/`` and loaded by everyone.

Everything a committed profile shows (the benchmark and every chapter's runs:
:mod:`imbalanced_contrastive.grid`) is trained once by ``make grid``
(:func:`~imbalanced_contrastive.grid.train_grid`) and committed as ``results/<dataset>/<profile>/<run>/seed<k>/``
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
