"""Imbalance profiles, subsampling and many/medium/few groups."""

from __future__ import annotations

import math

import pytest
import torch

from imbalanced_contrastive.data import build_splits, long_tail_counts, split_groups, step_counts, subsample_indices


def test_long_tail_formula_cifar10_lt_100():
    counts = long_tail_counts(5000, 10, 100)
    assert counts == [math.floor(5000 * 100 ** (-c / 9)) for c in range(10)]
    assert counts[0] == 5000 and counts[-1] == 50
    assert counts == sorted(counts, reverse=True)


def test_long_tail_cifar100_lt_100_total():
    # Cao et al.'s CIFAR-100-LT (IF 100) has 10,847 training images.
    assert sum(long_tail_counts(500, 100, 100)) == 10847


def test_step_profile():
    assert step_counts([6000] * 10, [0, 2], 100) == [60, 6000, 60] + [6000] * 7


@pytest.mark.parametrize(
    "args, match",
    [
        ((100, 1, 10), "num_classes"),
        ((0, 10, 10), "n_max"),
        ((100, 10, 0.5), "imbalance_factor"),
        ((100, 10, float("nan")), "imbalance_factor"),
    ],
)
def test_long_tail_rejects_bad_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        long_tail_counts(*args)


@pytest.mark.parametrize(
    "minority, ratio, match",
    [([], 10, "at least one"), (list(range(10)), 10, "majority"), ([11], 10, "outside"), ([1], 0.5, "ratio")],
)
def test_step_rejects_bad_parameters(minority, ratio, match):
    with pytest.raises(ValueError, match=match):
        step_counts([100] * 10, minority, ratio)


def test_subsample_is_seeded_and_exact():
    labels = torch.arange(100) % 4
    a = subsample_indices(labels, [25, 10, 5, 1], seed=7)
    b = subsample_indices(labels, [25, 10, 5, 1], seed=7)
    c = subsample_indices(labels, [25, 10, 5, 1], seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(labels[a]).tolist() == [25, 10, 5, 1]
    with pytest.raises(ValueError, match="cannot keep 26"):
        subsample_indices(labels, [26, 0, 0, 0], seed=0)


def test_groups():
    g = split_groups([500, 101, 100, 20, 19, 0])
    assert g.group_of_class == ("many", "many", "medium", "medium", "few", "few")
    assert g.as_dict() == {"many": [0, 1], "medium": [2, 3], "few": [4, 5]}
    with pytest.raises(ValueError, match="thresholds"):
        split_groups([1, 2], many_threshold=5, few_threshold=10)


def test_build_splits_on_real_fmnist(real_fmnist_dir):
    s = build_splits(
        "fmnist",
        imbalance="step",
        ratio=10,
        minority_classes=[0, 6],
        train_per_class=200,
        test_per_class=50,
        seed=1,
        many_threshold=150,
        few_threshold=30,
    )
    assert s.class_counts.tolist() == [20, 200, 200, 200, 200, 200, 20, 200, 200, 200]
    assert s.test.class_counts().tolist() == [50] * 10
    assert s.groups.members("few") == [0, 6]
    s2 = build_splits(
        "fmnist",
        imbalance="step",
        ratio=10,
        minority_classes=[0, 6],
        train_per_class=200,
        test_per_class=50,
        seed=1,
        many_threshold=150,
        few_threshold=30,
    )
    assert torch.equal(s.train.images, s2.train.images)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"imbalance": "zipf"}, ValueError, "imbalance must be one of"),
        ({"imbalance": "none", "ratio": 10}, ValueError, "takes no ratio"),
        ({"imbalance": "step", "ratio": 10, "minority_classes": [42]}, ValueError, "outside"),
        ({"imbalance": "long_tail", "ratio": 0.1}, ValueError, "imbalance_factor"),
        (
            {"imbalance": "long_tail", "ratio": 10, "minority_classes": [1]},
            ValueError,
            "applies to imbalance=.step. only",
        ),
    ],
)
def test_build_splits_rejects_bad_imbalance(real_fmnist_dir, kwargs, err, match):
    with pytest.raises(err, match=match):
        build_splits("fmnist", train_per_class=50, test_per_class=10, **kwargs)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset must be one of"):
        build_splits("mnist-fashion")
