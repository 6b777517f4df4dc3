"""Run records: everything needed to trust and reuse a run, as JSON (+ a small ``.npz``).

A record holds the full config, per-epoch history, final metrics, provenance (package version,
git commit, device, library versions) and wall time; an optional sample of test embeddings with
labels, test-set row indices and the model's predictions is stored beside it (``embeddings.npz``) for
the UMAP figures and the embedding explorer.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

RECORD_FILE = "record.json"
EMBEDDING_FILE = "embeddings.npz"
SCHEMA_VERSION = 1
SAMPLE_ARRAYS = {
    "embeddings": "embeddings",
    "labels": "embedding_labels",
    "indices": "embedding_indices",
    "predictions": "embedding_predictions",
}
"""The arrays of ``embeddings.npz`` (key in the file: record attribute); ``indices`` and
``predictions`` are absent from records written before release 0.4.0."""


class CorruptRecordError(ValueError):
    """A run record exists but cannot be read back (truncated, not JSON, wrong schema); the message
    names the file."""


def atomic_write(path: Path, write) -> None:
    """Write ``path`` through ``write(tmp_path)`` into a uniquely named temporary file beside it,
    then rename: readers see the old file or the new one, never a partial one, and two writers
    never share a temporary file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return _jsonable(float(value))
    return value


@dataclass
class RunRecord:
    """The outcome of one run.

    Attributes:
        config: the full configuration that produced it.
        history: one dict of metrics per epoch (``epoch``, ``loss``, test metrics, ...).
        metrics: final metrics (see :func:`imbalanced_contrastive.evaluation.classification_metrics`).
        provenance: package version, git commit, device, library versions.
        wall_time_s: training and evaluation time in seconds.
        embeddings: optional test-embedding sample. Shape: ``[M, D]``.
        embedding_labels: labels of that sample. Shape: ``[M]``.
        embedding_indices: the sample's rows in the run's test split. Shape: ``[M]``.
        embedding_predictions: the trained model's predicted class of each of them. Shape: ``[M]``.
    """

    config: dict
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    wall_time_s: float = 0.0
    embeddings: np.ndarray | None = None
    embedding_labels: np.ndarray | None = None
    embedding_indices: np.ndarray | None = None
    embedding_predictions: np.ndarray | None = None

    def to_json_dict(self) -> dict:
        d = asdict(self)
        for name in SAMPLE_ARRAYS.values():
            d.pop(name)
        d["schema_version"] = SCHEMA_VERSION
        return _jsonable(d)

    def save(self, directory: str | Path, embedding_dtype: str = "float32") -> Path:
        """Write ``record.json`` (and ``embeddings.npz``, embeddings as ``embedding_dtype``:
        ``float32``, or ``float16`` for committed records) into ``directory`` atomically."""
        if embedding_dtype not in ("float32", "float16"):
            raise ValueError(f"embedding_dtype must be 'float32' or 'float16'; got {embedding_dtype!r}")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        if self.embeddings is not None:
            arrays = {
                key: getattr(self, name) for key, name in SAMPLE_ARRAYS.items() if getattr(self, name) is not None
            }
            arrays["embeddings"] = np.asarray(self.embeddings).astype(embedding_dtype)

            def write_npz(tmp: Path) -> None:
                with open(tmp, "wb") as f:
                    np.savez_compressed(f, **arrays)

            atomic_write(out / EMBEDDING_FILE, write_npz)
        text = json.dumps(self.to_json_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write(out / RECORD_FILE, lambda tmp: tmp.write_text(text))
        return out / RECORD_FILE

    @classmethod
    def load(cls, directory: str | Path) -> RunRecord:
        """Read a record written by :meth:`save`.

        Raises:
            FileNotFoundError: there is no record in ``directory``.
            CorruptRecordError: the record (or its embeddings) cannot be read or has the wrong
                schema; the message names the file.
        """
        path = Path(directory) / RECORD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no run record at {path}")
        try:
            d = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CorruptRecordError(f"run record {path} is unreadable: {err}") from err
        if not isinstance(d, dict):
            raise CorruptRecordError(f"run record {path} is not a JSON object")
        version = d.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise CorruptRecordError(
                f"{path} has schema version {version}; this library reads version {SCHEMA_VERSION}"
            )
        known = {f.name for f in fields(cls)} - set(SAMPLE_ARRAYS.values())
        if set(d) != known or not isinstance(d.get("config"), dict) or not isinstance(d.get("metrics"), dict):
            raise CorruptRecordError(f"run record {path} does not have the record's fields {sorted(known)}")
        record = cls(**d)
        emb = Path(directory) / EMBEDDING_FILE
        if emb.is_file():
            try:
                with np.load(emb) as z:
                    for key, name in SAMPLE_ARRAYS.items():
                        if key in z.files:
                            setattr(record, name, z[key])
                    if record.embeddings is None or record.embedding_labels is None:
                        raise KeyError("embeddings and labels")
            except (OSError, ValueError, KeyError, EOFError) as err:
                raise CorruptRecordError(f"embeddings {emb} are unreadable: {err}") from err
        return record
