"""The experiment API: every recipe x loss end to end (smoke), validation before training,
caching, records, the CLI, the learning-rate schedule, and a quick-profile learning check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imbalanced_contrastive.cli import main
from imbalanced_contrastive.records import RunRecord
from imbalanced_contrastive.training import METHODS, make_config, run_experiment
from imbalanced_contrastive.training.recipes import lr_factor


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs_end_to_end(method, tmp_path, real_fmnist_dir):
    config = make_config(method, "smoke")
    record = run_experiment(config, runs_root=tmp_path, progress=False)
    m = record.metrics
    assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["balanced_accuracy"] <= 1.0
    assert len(m["per_class"]) == 10 and set(m["groups"]) == {"many", "medium", "few"}
    assert m["few"] is not None and m["many"] is not None
    assert record.embeddings.shape[0] == config.embed_points == len(record.embedding_labels)
    assert np.allclose(np.linalg.norm(record.embeddings, axis=1), 1.0, atol=1e-4)
    assert record.config["recipe"] == METHODS[method].name and record.config["loss"] == method
    stages = {h["stage"] for h in record.history}
    assert stages == ({1, 2} if METHODS[method].name == "two_stage" else {1})
    assert all(math.isfinite(h["loss"]) for h in record.history)
    assert {"git_commit", "device", "package_version", "data"} <= set(record.provenance)
    assert not list((tmp_path / config.cache_key()).glob("checkpoints*")), "checkpoints are removed after success"


def test_two_stage_with_focal_classifier_and_notes(tmp_path, real_fmnist_dir):
    record = run_experiment(make_config("rcl", "smoke"), runs_root=tmp_path, progress=False)
    assert any("reconstruction" in n for n in record.config["notes"])
    record = run_experiment(
        make_config("afcl", "smoke", stage2_loss="focal", normalization="paper"), runs_root=tmp_path, progress=False
    )
    assert record.config["stage2_loss"] == "focal"
    assert any("not recoverable" in n for n in record.config["notes"])
    assert any("normalization='paper'" in n for n in record.config["notes"])


def test_runs_that_differ_in_stage_2_share_stage_1_and_match_a_whole_run(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.training.recipes import stage1_key

    plain = make_config("cl", "smoke")
    prior = make_config("cl", "smoke", stage2_loss="balanced_softmax")
    assert stage1_key(plain) == stage1_key(prior) and plain.cache_key() != prior.cache_key()
    assert stage1_key(make_config("cl", "smoke", temperature=0.2)) != stage1_key(plain)
    assert stage1_key(make_config("cl", "smoke", embed_points=50, stage2_loss="balanced_softmax")) == stage1_key(plain)
    shared = tmp_path / "shared"
    run_experiment(plain, runs_root=shared, progress=False)
    assert (shared / "stage1" / f"{stage1_key(plain)}.pt").is_file()
    reused = run_experiment(prior, runs_root=shared, progress=False)
    whole = run_experiment(prior, runs_root=tmp_path / "alone", progress=False)  # stage 1 trained afresh
    assert reused.metrics == whole.metrics
    np.testing.assert_array_equal(reused.embeddings, whole.embeddings)
    assert [h["loss"] for h in reused.history] == [h["loss"] for h in whole.history]
    assert reused.config["stage2_loss"] == "balanced_softmax"
    # the prior-corrected classifier predicts the minority classes more often than the plain one
    plain_record = run_experiment(plain, runs_root=shared, progress=False)
    assert reused.metrics["few"] >= plain_record.metrics["few"]
    (shared / "stage1" / f"{stage1_key(plain)}.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning, match="stage-1 file .* is unreadable"):
        again = run_experiment(prior, runs_root=shared, progress=False, cache=False)
    assert again.metrics == whole.metrics


def test_records_are_cached_and_reload_identically(tmp_path, real_fmnist_dir):
    config = make_config("afcl", "smoke")
    first = run_experiment(config, runs_root=tmp_path, progress=False)
    stamp = (tmp_path / config.cache_key() / "record.json").stat().st_mtime_ns
    again = run_experiment(make_config("afcl", "smoke"), runs_root=tmp_path, progress=False)
    assert (tmp_path / config.cache_key() / "record.json").stat().st_mtime_ns == stamp, "identical config retrained"
    assert again.to_json_dict() == first.to_json_dict()
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    assert make_config("afcl", "smoke", gamma=1.0).cache_key() != config.cache_key()
    assert make_config("afcl", "smoke", data_dir="/elsewhere").cache_key() == config.cache_key()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "simclr"}, "method must be one of"),
        ({"method": "afcl", "epochs": -1}, "epochs must be an integer >= 1"),
        ({"method": "afcl", "gamma": -2.0}, "gamma must be"),
        ({"method": "afcl", "gama": 2.0}, "unknown setting 'gama'"),
        ({"method": "fcl", "eta": 2.0}, "unknown setting 'eta'"),
        ({"method": "ce", "encoder": "vgg"}, "encoder must be one of"),
        ({"method": "ce", "imbalance": "long_tail"}, "takes no minority_classes"),
        ({"method": "ce", "schedule": "step"}, "needs milestones"),
        ({"method": "rescom", "hard_negatives": 10_000}, "hard_negatives <="),
        ({"method": "cl", "stage2_loss": "hinge"}, "stage2_loss must be one of"),
        ({"method": "ce", "profile": "fast"}, "profile must be one of"),
        ({"method": "ce", "augmentation": "heavy"}, r"augmentation must be one of \('light', 'strong'\)"),
        ({"method": "ce", "eval_every": 0}, "eval_every must be an integer >= 1 or None"),
    ],
)
def test_bad_configs_fail_before_training(kwargs, match):
    kwargs = dict(kwargs)
    method = kwargs.pop("method")
    profile = kwargs.pop("profile", "smoke")
    with pytest.raises(ValueError, match=match):
        make_config(method, profile, **kwargs)


def test_lr_schedules():
    bcl = make_config("bcl", "paper", "cifar100")
    assert [round(lr_factor(bcl, e), 6) for e in (0, 4, 5, 159, 160, 180, 199)] == [0.2, 1.0, 1.0, 1.0, 0.1, 0.01, 0.01]
    cos = make_config("ce", "quick", epochs=10, warmup_epochs=2)
    assert lr_factor(cos, 0) == 0.5 and lr_factor(cos, 1) == 1.0
    assert lr_factor(cos, 2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 1 / 9)))
    assert 0 < lr_factor(cos, 9) < 0.05


def test_cli_train_writes_a_record(tmp_path, real_fmnist_dir, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "train",
            "--method",
            "afcl",
            "--profile",
            "smoke",
            "--set",
            "gamma=2",
            "--set",
            "eta=100",
            "--runs-root",
            str(tmp_path / "runs"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    record = json.loads((out / "record.json").read_text())
    assert record["config"]["loss_params"]["gamma"] == 2 and record["config"]["loss_params"]["eta"] == 100
    assert "balanced accuracy" in capsys.readouterr().out
    assert main(["train", "--recipe", "afcl", "--profile", "smoke", "--set", "eta=-1"]) == 2  # the former spelling
    assert "eta must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    "method, eval_every, evaluated",
    [
        ("ce", None, []),
        ("ce", 1, [(1, 1), (1, 2)]),
        ("ce", 2, [(1, 2)]),
        ("cl", None, []),
        ("cl", 1, [(2, 2)]),  # stage 1 has no classifier; stage 2 is evaluated at its end
    ],
)
def test_test_set_is_evaluated_where_the_history_needs_it(method, eval_every, evaluated, tmp_path, real_fmnist_dir):
    """By default the trained model is evaluated once, for the record (the quick book plots no
    learning curve); ``eval_every`` keeps a curve in the history (the paper profile: every 10
    epochs), whose last point is the record's result."""
    record = run_experiment(
        make_config(method, "smoke", epochs=2, classifier_epochs=2, eval_every=eval_every),
        runs_root=tmp_path,
        progress=False,
    )
    assert [(h["stage"], h["epoch"]) for h in record.history if "test_balanced_accuracy" in h] == evaluated
    if evaluated:
        assert record.history[-1]["test_balanced_accuracy"] == pytest.approx(record.metrics["balanced_accuracy"])
    assert make_config("bcl", "paper", "cifar100").eval_every == 10


def test_epoch_lines_show_the_test_accuracy_only_where_it_was_measured(tmp_path, real_fmnist_dir, capsys, monkeypatch):
    monkeypatch.setenv("IMBALANCED_CONTRASTIVE_PROGRESS", "bars")
    run_experiment(make_config("ce", "smoke", epochs=2, eval_every=2), runs_root=tmp_path, progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "ce epoch" in line]
    assert len(lines) == 2 and "test balanced acc" not in lines[0] and "nan" not in lines[0]
    assert "test balanced acc 0." in lines[1] or "test balanced acc 1." in lines[1]


@pytest.mark.slow
def test_a_contrastive_recipe_learns_on_real_data(tmp_path, real_fmnist_dir):
    """The smoke profile with enough images and epochs to learn (tests never run the quick profile)."""
    config = make_config(
        "afcl",
        "smoke",
        train_per_class=300,
        test_per_class=100,
        many_threshold=200,
        few_threshold=50,
        epochs=3,
        batch_size=64,
        classifier_epochs=10,
    )
    record = run_experiment(config, runs_root=tmp_path, progress=False)
    bal = record.metrics["balanced_accuracy"]
    assert bal > 0.4, f"balanced accuracy {bal:.3f} should beat chance (0.10) by a wide margin"
    back = RunRecord.load(tmp_path / record.config["cache_key"])
    assert back.to_json_dict() == record.to_json_dict()
