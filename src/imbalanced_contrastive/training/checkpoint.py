"""Atomic checkpoints, loaded with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(state: dict[str, Any], directory: str | Path) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically (temporary file + rename).

    ``state`` must hold only tensors, numbers, strings and containers of them, so that it can be
    read back with ``weights_only=True``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (CHECKPOINT_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out / CHECKPOINT_FILE)
    return out / CHECKPOINT_FILE


def load_checkpoint(directory: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint in ``directory``, or ``None`` when there is none."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    return torch.load(path, map_location=map_location, weights_only=True)
