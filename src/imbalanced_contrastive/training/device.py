"""Device selection, mixed precision and seeding."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; other names must be available.

    Accepts ``cuda:N`` too (the local rank under ``torchrun``).
    """
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N); got {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use device='auto' or 'cpu'")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was requested but MPS is not available; use device='auto' or 'cpu'")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``; a no-op elsewhere. Losses cast features to fp32."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def derive_seed(seed: int, *parts: int) -> int:
    """A deterministic 31-bit seed from ``seed`` and integer ``parts`` (epoch, stage, ...)."""
    h = seed & 0x7FFFFFFF
    for p in parts:
        h = (h * 1_000_003 + p + 0x9E3779B1) & 0x7FFFFFFF
    return h


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) from one ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def progress_enabled(requested: bool = True) -> bool:
    """Progress bars are shown unless disabled or running under CI (``CI`` set and not false)."""
    ci = os.environ.get("CI", "").strip().lower()
    return requested and ci in ("", "0", "false", "no")
