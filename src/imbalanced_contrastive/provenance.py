"""Where and when a run happened: package version, git commit, device, library versions, date."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from imbalanced_contrastive._meta import __version__


def git_commit(start: Path | None = None) -> str | None:
    """Return the current git commit hash of the source tree, or ``None`` outside a repository.

    A ``-dirty`` suffix marks uncommitted changes, so a record never claims a clean commit it
    did not run.
    """
    cwd = start or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def describe_device(device: torch.device) -> str:
    """A human-readable name of ``device`` (GPU model for CUDA, the processor otherwise)."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "mps:apple"
    return f"cpu:{platform.processor() or platform.machine()}"


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`):
    CPU training is bit-for-bit repeatable on the same model and thread count, not across models."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: torch.device) -> dict[str, Any]:
    """The provenance block of a run record."""
    import datetime

    import numpy

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package_version": __version__,
        "git_commit": git_commit(),
        "device": describe_device(device),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
    }
