"""Bad input at the public entry points gets an error that names the argument (or file) and says
what is allowed, never a traceback from deep inside PyTorch; the commands the repository's texts
name exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO

from imbalanced_contrastive.losses import ClassBalancedQueue, get_loss

COUNTS = [30, 20, 10]
CLASSIFICATION = {
    "ce": {},
    "focal": {},
    "la_ce": {"class_counts": COUNTS},
    "balanced_softmax": {"class_counts": COUNTS},
    "siamese_balanced_softmax": {"class_counts": COUNTS},
}
CONTRASTIVE = {
    "supcon": {},
    "cl": {},
    "fcl": {"gamma": 2.0},
    "acl": {"eta": 10.0},
    "afcl": {"gamma": 2.0, "eta": 10.0},
    "bcl": {},
    "rcl": {"class_counts": COUNTS},
    "rescom": {"class_counts": COUNTS, "hard_negatives": 2},
}


@pytest.mark.parametrize("dtype", [torch.bool, torch.float32], ids=["bool", "float"])
@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_classification_losses_name_non_integer_targets(name, dtype):
    logits = torch.randn(4, 2, 3) if name == "siamese_balanced_softmax" else torch.randn(4, 3)
    targets = torch.tensor([0, 1, 0, 1]).to(dtype)
    with pytest.raises(ValueError, match=r"targets must be a 1-D integer tensor .*got dtype torch\.(bool|float32)"):
        get_loss(name, **CLASSIFICATION[name])(logits, targets)


@pytest.mark.parametrize("name", sorted(CONTRASTIVE))
def test_contrastive_losses_reject_empty_embeddings(name):
    features = torch.zeros(4, 2, 0)
    labels = torch.tensor([0, 1, 2, 0])
    args = (features, labels, torch.zeros(3, 0)) if name in ("bcl", "rcl") else (features, labels)
    with pytest.raises(ValueError, match=r"features must have at least one dimension per embedding"):
        get_loss(name, **CONTRASTIVE[name])(*args)


@pytest.mark.parametrize("name", [["afcl"], ("afcl",), None, 3])
def test_get_loss_names_a_name_that_is_not_a_string(name):
    with pytest.raises(ValueError, match=r"loss must be one of \[.*\] \(a name, as a string\); got"):
        get_loss(name)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_classes": 3.0}, "num_classes"),
        ({"num_classes": True}, "num_classes"),
        ({"per_class": 0}, "per_class"),
        ({"dim": "8"}, "dim"),
        ({"seed": -1}, "seed"),
    ],
)
def test_queue_arguments_are_checked_by_name(kwargs, argument):
    settings = {"num_classes": 3, "per_class": 4, "dim": 8, **kwargs}
    with pytest.raises(ValueError, match=rf"{argument} must be an integer >= "):
        ClassBalancedQueue(**settings)


def test_queue_accepts_numpy_integers():
    import numpy as np

    queue = ClassBalancedQueue(np.int64(3), np.int32(4), 8)
    assert queue.num_classes == 3 and type(queue.num_classes) is int


def test_queue_push_names_labels_that_are_not_a_tensor():
    queue = ClassBalancedQueue(3, 4, 8)
    features = F.normalize(torch.randn(2, 8), dim=1)
    with pytest.raises(ValueError, match=r"push expects labels as a 1-D integer tensor \[n\]; got list"):
        queue.push(features, [0, 1])
    with pytest.raises(ValueError, match=r"push expects labels as a 1-D integer tensor \[n\]; got torch.float32"):
        queue.push(features, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"push expects features as a floating tensor"):
        queue.push([[0.0] * 8], torch.tensor([0]))


def test_data_command_reports_a_corrupt_file_without_a_traceback(tmp_path, real_fmnist_dir):
    for path in real_fmnist_dir.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    corrupt = tmp_path / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(corrupt.read_bytes()[:100])
    done = subprocess.run(
        [sys.executable, "-m", "imbalanced_contrastive", "data", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and "t10k-labels-idx1-ubyte.gz" in done.stderr, done.stderr


def test_commands_named_in_the_repository_exist():
    """Every `python -m imbalanced_contrastive <command>` in a tracked text file is a subcommand."""
    from imbalanced_contrastive.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    named = {}
    for name in files:
        if name.endswith((".py", ".md", ".yml", ".yaml", ".toml", ".cfg", ".txt", ".ipynb")) or name == "Makefile":
            for command in re.findall(r"python -m imbalanced_contrastive ([a-z][\w-]*)", (REPO / name).read_text()):
                named.setdefault(command, []).append(name)
    stale = {c: where for c, where in named.items() if c not in commands}
    assert not stale, f"commands that do not exist (the CLI has {sorted(commands)}): {stale}"
