"""Faults and bad input: every public entry point returns a correct result or raises an error that
names the argument or file, says what was wrong and what is allowed; corrupt caches are moved aside
and recomputed; concurrent runs share a runs folder safely. One test per defect found by probing."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from imbalanced_contrastive.cli import main
from imbalanced_contrastive.losses import (
    ClassBalancedQueue,
    ClassBalancedSupConLoss,
    RebalancedContrastiveLoss,
    SupConLoss,
    get_loss,
)
from imbalanced_contrastive.records import CorruptRecordError, RunRecord
from imbalanced_contrastive.training import make_config, run_experiment


@pytest.fixture
def smoke_ce():
    return make_config("ce", "smoke", epochs=1)


# 1. a corrupt cached file makes every rerun crash
def test_corrupt_record_is_named_moved_aside_and_recomputed(tmp_path, real_fmnist_dir, smoke_ce):
    first = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    path = tmp_path / smoke_ce.cache_key() / "record.json"
    path.write_text(path.read_text()[:100])  # truncated
    with pytest.raises(CorruptRecordError, match=str(path)):
        RunRecord.load(path.parent)
    with pytest.warns(RuntimeWarning, match="record.json is unreadable.*moved to record.json.corrupt-"):
        again = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    assert again.metrics == first.metrics and RunRecord.load(path.parent).metrics == first.metrics
    assert list(path.parent.glob("record.json.corrupt-*"))


def test_empty_checkpoint_is_moved_aside_and_training_restarts(tmp_path, real_fmnist_dir, smoke_ce):
    checkpoints = tmp_path / smoke_ce.cache_key() / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "checkpoint.pt").write_bytes(b"")
    with pytest.warns(RuntimeWarning, match="checkpoint.pt is unreadable"):
        record = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    assert [h["epoch"] for h in record.history] == [1]


def test_results_table_leaves_out_a_corrupt_record(tmp_path):
    from imbalanced_contrastive.results_table import find_records

    good = RunRecord(config={"method": "ce"}, metrics={"accuracy": 0.5})
    good.save(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "record.json").write_text('{"config": ')
    with pytest.warns(RuntimeWarning, match="b/record.json is unreadable"):
        assert [r.config for r in find_records(tmp_path)] == [good.config]


# 2. two processes sharing a runs folder
@pytest.mark.slow
def test_two_identical_cli_runs_at_once_share_one_intact_record(tmp_path, real_fmnist_dir):
    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "imbalanced_contrastive",
        "train",
        "--method",
        "supcon",
        "--profile",
        "smoke",
        "--runs-root",
        str(runs),
    ]
    env = {**os.environ, "CI": "true"}
    seen: list[str] = []
    done = threading.Event()

    def read_while_running():
        while not done.is_set():
            for path in runs.glob("*/record.json"):
                try:
                    RunRecord.load(path.parent)
                    seen.append("ok")
                except FileNotFoundError:
                    pass
                except Exception as err:  # noqa: BLE001 - a partial file is exactly what must not happen
                    seen.append(f"partial: {err}")

    reader = threading.Thread(target=read_while_running)
    reader.start()
    try:
        procs = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        done.set()
        reader.join(timeout=30)
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    records = list(runs.glob("*/record.json"))
    assert len(records) == 1 and RunRecord.load(records[0].parent).config["method"] == "supcon"
    assert not [s for s in seen if s != "ok"], seen[:3]
    assert not list(runs.glob("*/.*.tmp")) and not list(runs.glob("*/*.tmp")), "no temporary file is left"


def test_two_writers_of_one_record_never_share_a_temporary_file(tmp_path, monkeypatch):
    """Deterministic form of the race: a second save happens while the first is being renamed."""
    import imbalanced_contrastive.records as records

    a = RunRecord(config={"method": "ce", "who": "a"}, embeddings=np.zeros((2, 3)), embedding_labels=np.zeros(2))
    b = RunRecord(config={"method": "ce", "who": "b"}, embeddings=np.ones((2, 3)), embedding_labels=np.ones(2))
    real_replace = os.replace
    state = {"interleaved": False}

    def replace_with_a_rival(src, dst):
        if not state["interleaved"]:
            state["interleaved"] = True
            b.save(tmp_path)  # the other process writes the same record now
        real_replace(src, dst)

    monkeypatch.setattr(records.os, "replace", replace_with_a_rival)
    a.save(tmp_path)
    monkeypatch.setattr(records.os, "replace", real_replace)
    assert RunRecord.load(tmp_path).config["who"] in ("a", "b")
    assert not [p.name for p in tmp_path.iterdir() if p.name not in ("record.json", "embeddings.npz")]


# 3. corrupt dataset files
def test_corrupt_gzip_names_the_file(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist

    for f in real_fmnist_dir.glob("*-ubyte.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is a truncated or corrupt gzip file"):
        load_fashion_mnist(tmp_path)
    with gzip.open(bad, "wb") as f:
        f.write(b"not an IDX file")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(tmp_path)


# 4. an explicit data_dir is used or rejected, never silently replaced by another copy
def test_a_missing_or_incomplete_data_dir_is_an_error(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.data.cifar import load_cifar
    from imbalanced_contrastive.data.dermamnist import load_dermamnist
    from imbalanced_contrastive.data.fashion_mnist import load_fashion_mnist

    for load in (load_fashion_mnist, lambda d: load_cifar("cifar10", d), load_dermamnist):
        with pytest.raises(FileNotFoundError, match="no-such-folder does not exist"):
            load(tmp_path / "no-such-folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty is incomplete: missing train-images"):
        load_fashion_mnist(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="empty holds no cifar10 files"):
        load_cifar("cifar10", tmp_path / "empty")


# 5. the cache checks that a record belongs to the config
def test_a_record_of_another_config_is_not_returned(tmp_path, real_fmnist_dir, smoke_ce):
    other = make_config("focal", "smoke", epochs=1)
    run_experiment(other, runs_root=tmp_path, progress=False)
    target = tmp_path / smoke_ce.cache_key()
    target.mkdir()
    (target / "record.json").write_text((tmp_path / other.cache_key() / "record.json").read_text())
    with pytest.warns(RuntimeWarning, match="made by another config"):
        record = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    assert record.config["method"] == "ce" and record.config["cache_key"] == smoke_ce.cache_key()


# 6. losses that returned NaN
def test_classification_losses_reject_empty_batches_and_nan_logits():
    ce = get_loss("ce")
    with pytest.raises(ValueError, match="logits must hold at least one sample"):
        ce(torch.empty(0, 3), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="logits contain NaN"):
        ce(torch.tensor([[0.0, float("nan")]]), torch.tensor([0]))


def test_queue_rejects_nan_keys():
    queue = ClassBalancedQueue(3, 2, 4)
    with pytest.raises(ValueError, match="queue features contain NaN"):
        queue.push(torch.full((2, 4), float("nan")), torch.tensor([0, 1]))
    loss = ClassBalancedSupConLoss([5, 5, 5], hard_positives=1, hard_negatives=2)
    z = F.normalize(torch.randn(4, 2, 4), dim=-1)
    assert torch.isfinite(loss(z, torch.tensor([0, 1, 2, 0]), queue))


# 7. --set keys listed by --help, and failures that came late
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "method=ce"], "use --method ce"),
        (["--set", "dataset=cifar10"], "use --dataset cifar10"),
        (["--set", "milestones=5"], "milestones must be a list of integers"),
        (["--set", "loss_params=5"], "loss_params must be a dict"),
        (["--set", "seed=1.5"], "seed must be an integer"),
        (["--set", "contrastive_weight=x"], "contrastive_weight must be a finite number"),
        (["--set", "ratio=0"], "ratio must be a finite number >= 1.0"),
        (["--set", "image_size=0"], "image_size must be an integer >= 8"),
        (["--set", "amp='maybe'"], "amp must be True or False"),
        (["--set", "pretrained=True"], "pretrained=True needs an encoder with published weights"),
    ],
)
def test_cli_settings_fail_by_name_before_training(argv, message, capsys, monkeypatch):
    import imbalanced_contrastive.data.catalogue as catalogue

    monkeypatch.setattr(catalogue, "load_source", lambda *a, **k: pytest.fail("the data must not be loaded"))
    assert main(["train", "--method", "ce", "--profile", "smoke", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_unavailable_device_and_bad_runs_folder_fail_before_training(tmp_path, capsys, monkeypatch):
    import imbalanced_contrastive.data.catalogue as catalogue

    monkeypatch.setattr(catalogue, "load_source", lambda *a, **k: pytest.fail("the data must not be loaded"))
    assert main(["train", "--method", "ce", "--profile", "smoke", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["train", "--method", "ce", "--profile", "smoke", "--runs-root", str(blocker / "runs")]) == 2
    assert "cannot be written" in capsys.readouterr().err


# 8. RCL without class averaging mapped label -1 to the last class
def test_rcl_rejects_out_of_range_labels():
    loss = RebalancedContrastiveLoss([10, 5, 2], class_averaging=False, class_complement=False)
    z = F.normalize(torch.randn(3, 2, 4), dim=-1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]; got values in \[-1, 1\]"):
        loss(z, torch.tensor([0, 1, -1]))


# 9. divergence is the loop's FloatingPointError, with epoch and step
def test_divergence_is_reported_as_divergence(tmp_path, real_fmnist_dir):
    with pytest.raises(FloatingPointError, match=r"at epoch 1, step \d+"):
        run_experiment(make_config("afcl", "smoke", lr=1e8), runs_root=tmp_path, progress=False)


# 10. numeric arguments: numpy and torch scalars accepted, bools and 2-D counts rejected
def test_numeric_arguments():
    for tau in (np.float32(0.1), np.float64(0.1), torch.tensor(0.1), 0.1):
        assert SupConLoss(tau).temperature == pytest.approx(0.1)
    with pytest.raises(ValueError, match="temperature must be a real number; got True"):
        SupConLoss(True)
    with pytest.raises(ValueError, match="class_counts must be 1-D"):
        RebalancedContrastiveLoss([[10, 5], [2, 1]])
    with pytest.raises(ValueError, match="class_counts must be a 1-D sequence"):
        RebalancedContrastiveLoss(None)
    with pytest.raises(ValueError, match="class_averaging must be True or False"):
        RebalancedContrastiveLoss([3, 2], class_averaging="no")


# 11. the CIFAR loader unpickled local files
class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_cifar_loader_refuses_code_in_pickles(tmp_path, monkeypatch):
    from data.test_other_sources import write_cifar10

    from imbalanced_contrastive.data.cifar import load_cifar

    monkeypatch.chdir(tmp_path)
    folder = write_cifar10(tmp_path)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": _Payload()}, f)
    with pytest.raises(ValueError, match=r"batches.meta is not a CIFAR batch file .*posix.system is not allowed"):
        load_cifar("cifar10", tmp_path)
    assert not (tmp_path / "PWNED").exists()


# 12. minor ones
def test_resumed_run_counts_the_time_of_every_segment(tmp_path, real_fmnist_dir, monkeypatch):
    import time

    import imbalanced_contrastive.training.loop as loop

    config = make_config("ce", "smoke", epochs=2)
    real_views, real_save = loop.apply_views, loop.save_checkpoint

    def slow_views(*args, **kwargs):
        time.sleep(0.2)
        return real_views(*args, **kwargs)

    def save_then_stop(state, directory):
        real_save(state, directory)
        raise KeyboardInterrupt  # killed after the first epoch's checkpoint

    monkeypatch.setattr(loop, "apply_views", slow_views)
    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, runs_root=tmp_path, progress=False)
    monkeypatch.setattr(loop, "apply_views", real_views)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    record = run_experiment(config, runs_root=tmp_path, progress=False)
    first_epoch = record.history[0]["time_s"]
    assert first_epoch > 0.5, "the first segment was slowed down"
    assert record.wall_time_s >= sum(h["time_s"] for h in record.history) > first_epoch


def test_unnormalised_features_are_handled_exactly():
    """Features far from unit norm (||z||^2 / tau = 1e11): the anchor's own logit still weighs 0."""
    z = F.normalize(torch.randn(6, 2, 8, dtype=torch.float64), dim=-1) * 1e5
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    flat, labels = torch.cat([z[:, 0], z[:, 1]]), y.repeat(2)
    logits = (flat @ flat.T / 0.1).masked_fill(torch.eye(12, dtype=torch.bool), float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    pos = (labels[:, None] == labels[None, :]) & ~torch.eye(12, dtype=torch.bool)
    expected = -(log_prob.masked_fill(~pos, 0).sum(1) / pos.sum(1)).mean()
    assert torch.allclose(SupConLoss(0.1, base_temperature=0.1)(z, y), expected, rtol=1e-9)


def test_every_set_key_listed_by_help_is_a_setting(capsys):
    """The keys --help lists for --set are accepted (each with a valid value)."""
    from imbalanced_contrastive.cli import build_parser

    epilog = build_parser()._subparsers._group_actions[0].choices["train"].epilog
    listed = epilog.split("accepted by --set")[1].split("\n")[1].split(", ")
    assert "method" not in [k.strip() for k in listed] and "seed" in [k.strip() for k in listed]
    from imbalanced_contrastive.training.config import CONFIG_FIELDS

    assert {k.strip() for k in listed} == set(CONFIG_FIELDS) - {"method", "profile", "dataset"}


# 12. three leftovers of bad input (issue #31, item 6)
def test_cli_out_under_a_file_fails_before_training(tmp_path, capsys, monkeypatch):
    import imbalanced_contrastive.training.runner as runner

    monkeypatch.setattr(runner, "_train", lambda *a, **k: pytest.fail("trained before --out was checked"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker, blocker / "record"):
        argv = ["train", "--method", "ce", "--profile", "smoke", "--runs-root", str(tmp_path / "runs"), "--out"]
        assert main([*argv, str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--out {out}: {blocker} is a file, not a folder" in err and "Traceback" not in err


def test_a_cached_record_that_is_a_folder_is_moved_aside_and_recomputed(tmp_path, real_fmnist_dir, smoke_ce):
    first = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    path = tmp_path / smoke_ce.cache_key() / "record.json"
    path.unlink()
    path.mkdir()
    with pytest.warns(RuntimeWarning, match="record.json is not a file; moved to record.json.corrupt-"):
        again = run_experiment(smoke_ce, runs_root=tmp_path, progress=False)
    assert path.is_file() and again.metrics == first.metrics
    assert [p.is_dir() for p in path.parent.glob("record.json.corrupt-*")] == [True]


def test_a_queue_where_it_does_not_belong_and_numpy_logits_are_named():
    from imbalanced_contrastive.losses.classification_lt import SiameseBalancedSoftmaxLoss

    z = F.normalize(torch.randn(8, 2, 16), dim=-1)
    y = torch.arange(8) % 4
    with pytest.raises(TypeError, match="queue must be a ClassBalancedQueue or None; got Tensor"):
        ClassBalancedSupConLoss([10, 5, 3, 2])(z, y, torch.randn(8, 16))
    with pytest.raises(TypeError, match=r"SupConLoss takes \(features, labels\) only; got also ClassBalancedQueue"):
        SupConLoss()(z, y, ClassBalancedQueue(4, 2, 16))
    for shape in ((8, 2, 4), (8, 4)):
        with pytest.raises(ValueError, match="logits must be a floating tensor .* got ndarray"):
            SiameseBalancedSoftmaxLoss([10, 5, 3, 2])(np.zeros(shape, dtype=np.float32), y)
