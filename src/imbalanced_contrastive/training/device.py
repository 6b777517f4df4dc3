"""Device selection, mixed precision and seeding.

Mixed precision follows the device's capability (:func:`choose_precision`): bf16 autocast on CUDA
GPUs of compute capability 8.0 or newer (A100, H100, RTX 30xx and later), fp16 autocast with
gradient scaling on older GPUs (Colab's free T4 is 7.5, without bf16 tensor cores), and full
precision on the CPU. Autocast covers the encoder and heads; every loss computes in float32 with
autocast disabled (:func:`~imbalanced_contrastive.losses._common.full_precision`).

``"auto"`` picks CUDA, else the CPU. Apple's MPS is not offered: it has no float64, which the
prior-corrected, RCL and ResCom losses keep their class statistics in, and it is untested.

Determinism (:func:`deterministic_mode`): on the CPU every run is bit-exact for a seed (same
machine and thread count); on CUDA only with ``deterministic=True`` (deterministic algorithms,
cuDNN's deterministic kernels, a fixed cuBLAS workspace), at some cost in speed.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def select_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, else the CPU; ``"cuda"`` (or ``cuda:N``, the local rank under
    ``torchrun``) must be available.

    Raises:
        ValueError: an unknown name, ``"mps"`` (not supported: no float64, untested), or CUDA
            requested where it is not available.
    """
    base = name.split(":")[0] if isinstance(name, str) else name
    if base == "mps":
        raise ValueError(
            "device='mps' is not supported: Apple's MPS has no float64, which the BCL, RCL, ResCom and "
            "logit-adjusted losses keep their class statistics in; use device='cpu'"
        )
    if base not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N); got {name!r}")
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use device='auto' or 'cpu'")
    return torch.device(name)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``: from the CPU to CUDA through pinned memory and a non-blocking copy (the
    host does not wait for it); unchanged when it is already there."""
    if t.device.type == device.type and (device.index is None or t.device.index == device.index):
        return t
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


CUBLAS_WORKSPACE_CONFIG = ":4096:8"
"""The cuBLAS workspace setting that makes its matmuls deterministic (NVIDIA's cuBLAS docs, "Results
reproducibility"); set in ``$CUBLAS_WORKSPACE_CONFIG`` by :func:`deterministic_mode`."""


@contextlib.contextmanager
def deterministic_mode(enabled: bool):
    """Within the block, select deterministic kernels (``enabled``) or PyTorch's defaults.

    Deterministic: ``torch.use_deterministic_algorithms(True)`` (an operation without a
    deterministic kernel raises instead of running), cuDNN's deterministic algorithms without
    benchmarking, and ``$CUBLAS_WORKSPACE_CONFIG`` set (before the first cuBLAS call of the
    process, so set it in the environment when CUDA has already run). The previous settings are
    restored afterwards.
    """
    if not isinstance(enabled, bool):
        raise ValueError(f"deterministic must be True or False; got {enabled!r}")
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]


PRECISIONS = ("bf16", "fp16", "fp32")
"""What :func:`choose_precision` may return; recorded in every run record."""

BF16_MIN_CAPABILITY = (8, 0)
"""The CUDA compute capability from which bf16 tensor cores exist (Ampere)."""


def choose_precision(device: torch.device, amp: bool = True) -> str:
    """The training precision for ``device``: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    Args:
        device: the training device.
        amp: whether mixed precision is wanted at all (``False`` always gives ``"fp32"``).

    Returns:
        ``"bf16"`` on CUDA with compute capability >= 8.0, ``"fp16"`` (with gradient scaling, see
        :func:`grad_scaler`) on older CUDA GPUs, ``"fp32"`` elsewhere.
    """
    if not isinstance(amp, bool):
        raise ValueError(f"amp must be True or False; got {amp!r}")
    if not amp or device.type != "cuda":
        return "fp32"
    capability = tuple(torch.cuda.get_device_capability(device))
    return "bf16" if capability >= BF16_MIN_CAPABILITY else "fp16"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to ``precision`` (from :func:`choose_precision`) on the device; a no-op for
    ``"fp32"``. The losses run with autocast disabled on float32 inputs
    (:func:`~imbalanced_contrastive.losses._common.full_precision`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for ``"fp16"`` only (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


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


PROGRESS_ENV = "IMBALANCED_CONTRASTIVE_PROGRESS"
"""Environment variable choosing how progress is shown (see :func:`progress_mode`)."""

PROGRESS_MODES = ("bars", "lines", "off")

PROGRESS_PREFIX = "[imbalanced-contrastive] "
"""The start of every progress line in ``lines`` mode (the book build forwards these lines)."""


def progress_mode() -> str:
    """How progress is shown: ``$IMBALANCED_CONTRASTIVE_PROGRESS`` if set, else ``"off"`` under CI
    (``CI`` set and not false) and ``"bars"`` elsewhere.

    ``bars``: tqdm progress bars; ``lines``: no bars, one line per run on stderr, starting with
    :data:`PROGRESS_PREFIX` (what the book build shows in its terminal); ``off``: nothing.
    """
    mode = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if mode:
        if mode not in PROGRESS_MODES:
            raise ValueError(f"${PROGRESS_ENV} must be one of {PROGRESS_MODES}; got {mode!r}")
        return mode
    ci = os.environ.get("CI", "").strip().lower()
    return "bars" if ci in ("", "0", "false", "no") else "off"


def progress_enabled(requested: bool = True) -> bool:
    """Whether to draw progress bars: ``requested`` and :func:`progress_mode` is ``"bars"``."""
    return requested and progress_mode() == "bars"


def report_progress(line: str) -> None:
    """Write one progress line to stderr in ``lines`` mode (a no-op otherwise)."""
    if progress_mode() == "lines":
        print(PROGRESS_PREFIX + line, file=sys.stderr, flush=True)
