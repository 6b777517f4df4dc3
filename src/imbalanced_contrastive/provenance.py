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
    """The processor as CPU arithmetic sees it: its model name (``/proc/cpuinfo`` on Linux, else
    :func:`platform.processor`), its family and model numbers where the name is masked (a virtual
    machine's "AMD EPYC" covers several generations), and the vector instruction set torch's kernels
    use (``torch.backends.cpu.get_cpu_capability()``: AVX2, AVX512, ...). CPU training is bit-for-bit
    repeatable on the same processor, thread count and torch build, not across processors.

    Returns:
        For example ``"AMD EPYC (family 25, model 17; AVX512)"``.
    """
    name, numbers = platform.processor() or platform.machine(), ""
    try:
        first_core = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
        fields = {
            key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first_core.splitlines())
        }
        name = fields.get("model name", name)
        if "cpu family" in fields and "model" in fields:
            numbers = f"family {fields['cpu family']}, model {fields['model']}; "
    except OSError:
        pass
    return f"{name} ({numbers}{torch.backends.cpu.get_cpu_capability()})"


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
