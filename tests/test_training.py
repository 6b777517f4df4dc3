"""The training loop on real Fashion-MNIST: learning, exact resume, checkpoints, records."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from imbalanced_contrastive.data import BatchAugment, build_splits
from imbalanced_contrastive.evaluation import classification_metrics, sample_embeddings
from imbalanced_contrastive.models import build_encoder
from imbalanced_contrastive.provenance import provenance
from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.training import LoopConfig, SupervisedTask, fit, load_checkpoint, select_device
from imbalanced_contrastive.training.checkpoint import CHECKPOINT_FILE


@pytest.fixture(scope="module")
def splits(real_fmnist_dir):
    return build_splits("fmnist", train_per_class=150, test_per_class=50, seed=0, many_threshold=100, few_threshold=20)


def _run(splits, epochs, checkpoint_dir=None, on_epoch_end=None, seed=0):
    torch.manual_seed(seed)
    task = SupervisedTask(build_encoder("small_cnn", 1), splits.num_classes)
    opt = torch.optim.SGD(task.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(
        task,
        splits,
        opt,
        LoopConfig(epochs=epochs, batch_size=50, seed=seed, n_views=1, progress=False),
        torch.device("cpu"),
        scheduler=sched,
        augment=BatchAugment(),
        checkpoint_dir=checkpoint_dir,
        on_epoch_end=on_epoch_end,
    )
    return task, history


def test_one_epoch_learns_above_chance(real_fmnist_dir):
    data = build_splits("fmnist", train_per_class=300, test_per_class=50, seed=0)
    torch.manual_seed(0)
    task = SupervisedTask(build_encoder("small_cnn", 1), data.num_classes)
    opt = torch.optim.Adam(task.parameters(), lr=2e-3)
    history = fit(task, data, opt, LoopConfig(epochs=1, batch_size=50, progress=False), torch.device("cpu"))
    acc = history[-1]["test_accuracy"]
    assert acc > 0.4, f"one epoch on 3,000 real images should beat chance (0.1) clearly; got {acc}"
    assert np.isfinite(history[-1]["loss"])


class Killed(Exception):
    pass


@pytest.mark.slow
def test_kill_and_resume_is_exact(splits, tmp_path):
    _, full = _run(splits, epochs=3, checkpoint_dir=tmp_path / "full")

    def kill_after_first(epoch, metrics):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        _run(splits, epochs=3, checkpoint_dir=tmp_path / "resumed", on_epoch_end=kill_after_first)
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 0
    _, resumed = _run(splits, epochs=3, checkpoint_dir=tmp_path / "resumed", seed=0)
    strip = lambda h: [{k: v for k, v in e.items() if k != "time_s"} for e in h]  # noqa: E731
    assert strip(resumed) == strip(full)


def test_checkpoint_is_atomic_and_weights_only(splits, tmp_path):
    _run(splits, epochs=1, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert state["epoch"] == 0 and "task" in state and "optimizer" in state


def test_run_record_round_trip(splits, tmp_path):
    task, history = _run(splits, epochs=1)
    device = select_device("cpu")
    emb, lab = sample_embeddings(task.embed, splits.test, device, max_points=64)
    logits = torch.cat([task.predict(torch.zeros(1, 1, 28, 28))])
    record = RunRecord(
        config={"dataset": "fmnist", "epochs": 1},
        history=history,
        metrics=classification_metrics(torch.arange(10), torch.arange(10), 10, splits.groups),
        provenance=provenance(device),
        wall_time_s=1.5,
        embeddings=emb.numpy(),
        embedding_labels=lab.numpy(),
    )
    record.save(tmp_path)
    back = RunRecord.load(tmp_path)
    assert back.to_json_dict() == record.to_json_dict()
    np.testing.assert_array_equal(back.embeddings, emb.numpy().astype(np.float32))
    raw = json.loads((tmp_path / "record.json").read_text())
    assert {"package_version", "git_commit", "device", "torch"} <= set(raw["provenance"])
    assert logits.shape == (1, 10)


def test_loop_config_validation():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        LoopConfig(epochs=-1, batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        LoopConfig(epochs=1, batch_size=1)


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device must be one of"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")


def test_metrics():
    preds = torch.tensor([0, 0, 1, 1, 1, 2])
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    from imbalanced_contrastive.data import split_groups

    m = classification_metrics(preds, labels, 4, split_groups([300, 50, 5, 1]))
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["per_class"] == [pytest.approx(2 / 3), 1.0, 1.0, None]
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert m["many"] == pytest.approx(2 / 3) and m["medium"] == 1.0 and m["few"] == 1.0
    assert m["confusion"][0] == [2, 1, 0, 0]
