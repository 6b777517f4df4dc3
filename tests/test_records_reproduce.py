"""The committed records stay true to the code: one full-profile run of each recipe family is
retrained for its first epoch and its loss compared with the record's (issue #30, item 4).

A CPU run repeats bit for bit on the same processor model, thread count and torch build (the
record's provenance names all three since release 0.5.0); on another processor the floating-point
reductions run in another order, and the first epoch's loss moves by up to about 0.15 % (measured:
the cross-entropy and CL records of commit 02fe62b retrained on this machine's processor). So the
comparison is exact where the machine is the record's, and within :data:`ACROSS_CPUS` elsewhere.
On the record's machine any change in what a run computes fails, with the ``make grid`` command
that remakes the records; elsewhere only a change that moves the first epoch's loss by more than
the tolerance does (Balanced Softmax's prior at 0.99 instead of 1.0 passed it, measured). Records
made before release 0.5.0 carry no processor model, so they always take the tolerance. A version
bump alone changes nothing (the records' folders and settings ignore it).
"""

from __future__ import annotations

import pytest
import torch
from conftest import REPO

import imbalanced_contrastive.training.loop as loop
from imbalanced_contrastive.committed import grid_command, run_folder
from imbalanced_contrastive.provenance import cpu_model
from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.training.config import make_config
from imbalanced_contrastive.training.runner import run_experiment

ACROSS_CPUS = 5e-3
"""The relative tolerance of the first epoch's losses when the record was made on another
processor model, thread count or torch build (about three times the drift measured across two)."""

FAMILIES = {
    "supervised (one stage)": "fmnist/full/balanced_softmax-daca8751/seed0",
    "two-stage": "fmnist/full/supcon-4f50ff8d/seed0",
    "ResCom (class queues)": "fmnist/full/rescom-4f50ff8d/seed0",
}
"""One committed run of each recipe family, the cheapest of each (long-tailed data: a few seconds
an epoch on a CPU)."""


class _FirstEpoch(Exception):
    """Stops the run after its first epoch, carrying the history so far."""

    def __init__(self, history: list[dict]) -> None:
        super().__init__("first epoch done")
        self.history = history


def _first_epoch(config, runs_root) -> dict:
    def stop(state, folder):
        raise _FirstEpoch(list(state["history"]))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "save_checkpoint", stop)
        try:
            run_experiment(config, cache=False, runs_root=runs_root, progress=False)
        except _FirstEpoch as done:
            return done.history[0]
    raise AssertionError(f"{config.method}: the run ended without a checkpoint after its first epoch")


def _same_machine(provenance: dict) -> bool:
    return (
        provenance.get("cpu") == cpu_model()
        and provenance.get("cpu_threads") == torch.get_num_threads()
        and provenance.get("torch") == torch.__version__
    )


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_a_committed_run_retrains_to_its_recorded_first_epoch(family, real_fmnist_dir, tmp_path):
    folder = FAMILIES[family]
    record = RunRecord.load(REPO / "results" / folder)
    c = record.config
    config = make_config(c["method"], c["profile"], c["dataset"], seed=c["seed"], **record.provenance["overrides"])
    assert run_folder(config) == folder, f"{folder} is no longer where its config's record goes"
    assert c["recipe"] in {"supervised", "two_stage", "rescom"}
    recorded = record.history[0]
    mine = _first_epoch(config, tmp_path / "runs")
    assert recorded["stage"] == 1 and mine["epoch"] == recorded["epoch"] == 1
    keys = sorted(k for k in recorded if k not in ("time_s", "epoch", "stage"))  # the loss (and its parts), lr
    missing = [k for k in keys if k not in mine]
    assert "loss" in keys and not missing, f"the first epoch no longer reports {missing}"
    remake = (
        f"the training code no longer computes what made {folder} (its first epoch's {{key}}: recorded "
        f"{{recorded}}, now {{mine}}); if the change is meant, remake the committed records from a clean "
        f"commit with `make grid` (this run alone: {grid_command(config)})"
    )
    for key in keys:
        message = remake.format(key=key, recorded=recorded[key], mine=mine[key])
        if _same_machine(record.provenance):
            assert mine[key] == recorded[key], message
        else:
            assert mine[key] == pytest.approx(recorded[key], rel=ACROSS_CPUS), message
