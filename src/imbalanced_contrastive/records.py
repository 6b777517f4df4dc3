"""Run records: everything needed to trust and reuse a run, as JSON (+ a small ``.npz``).

A record holds the full config, per-epoch history, final metrics, provenance (package version,
git commit, device, library versions) and wall time; an optional sample of test embeddings with
labels is stored beside it for UMAP figures.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RECORD_FILE = "record.json"
EMBEDDING_FILE = "embeddings.npz"
SCHEMA_VERSION = 1


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
    """

    config: dict
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    wall_time_s: float = 0.0
    embeddings: np.ndarray | None = None
    embedding_labels: np.ndarray | None = None

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d.pop("embeddings")
        d.pop("embedding_labels")
        d["schema_version"] = SCHEMA_VERSION
        return _jsonable(d)

    def save(self, directory: str | Path) -> Path:
        """Write ``record.json`` (and ``embeddings.npz``) into ``directory`` atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        if self.embeddings is not None:
            tmp = out / (EMBEDDING_FILE + ".tmp.npz")
            np.savez_compressed(tmp, embeddings=self.embeddings.astype(np.float32), labels=self.embedding_labels)
            os.replace(tmp, out / EMBEDDING_FILE)
        tmp_json = out / (RECORD_FILE + ".tmp")
        tmp_json.write_text(json.dumps(self.to_json_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp_json, out / RECORD_FILE)
        return out / RECORD_FILE

    @classmethod
    def load(cls, directory: str | Path) -> "RunRecord":
        """Read a record written by :meth:`save`."""
        path = Path(directory) / RECORD_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no run record at {path}")
        d = json.loads(path.read_text())
        version = d.pop("schema_version", None)
        if version != SCHEMA_VERSION:
            raise ValueError(f"{path} has schema version {version}; this library reads version {SCHEMA_VERSION}")
        record = cls(**d)
        emb = Path(directory) / EMBEDDING_FILE
        if emb.is_file():
            with np.load(emb) as z:
                record.embeddings, record.embedding_labels = z["embeddings"], z["labels"]
        return record
