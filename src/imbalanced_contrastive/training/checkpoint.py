"""Atomic checkpoints, loaded with ``weights_only=True``; an unreadable one is moved aside."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch

from imbalanced_contrastive.records import atomic_write

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(state: dict[str, Any], directory: str | Path) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically (temporary file + rename).

    ``state`` must hold only tensors, numbers, strings and containers of them, so that it can be
    read back with ``weights_only=True``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / CHECKPOINT_FILE, lambda tmp: torch.save(state, tmp))
    return out / CHECKPOINT_FILE


def move_aside(path: Path) -> Path:
    """Rename a corrupt file to ``<name>.corrupt-<time>`` (kept for inspection); returns the new path."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6}")
    path.replace(aside)
    return aside


def load_checkpoint(directory: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``directory``, or ``None`` when there is none.

    An unreadable checkpoint (empty, truncated, not a checkpoint) is reported with its path in a
    warning, moved aside and treated as absent: training starts from the beginning.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(state, dict) or not {"task", "optimizer", "history", "epoch"} <= set(state):
            raise ValueError("not a training checkpoint")
        return state
    except Exception as err:  # noqa: BLE001 - any unreadable file: report, move aside, start again
        aside = move_aside(path)
        warnings.warn(
            f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); moved to {aside.name}, "
            "training starts from the beginning",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
