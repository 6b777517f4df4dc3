"""Table-driven bad input to every public loss and to ``get_loss``: each case raises ``ValueError``
whose message names the argument; numpy and torch scalars are accepted as numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from imbalanced_contrastive.losses import LOSSES, get_loss, loss_parameters

COUNTS = [50, 20, 5]
NEEDS_COUNTS = {name for name in LOSSES if "class_counts" in loss_parameters(name)}
CONTRASTIVE = ["supcon", "cl", "fcl", "acl", "afcl", "bcl", "rcl", "rescom"]
CLASSIFICATION = ["ce", "focal", "la_ce", "balanced_softmax", "siamese_balanced_softmax"]


def build(name: str, **params):
    return get_loss(name, **({"class_counts": COUNTS} if name in NEEDS_COUNTS else {}), **params)


def good_features():
    return F.normalize(torch.randn(4, 2, 8), dim=-1), torch.tensor([0, 0, 1, 2])


def call(name: str, loss, features, labels):
    if name in ("bcl", "rcl"):
        return loss(features, labels, F.normalize(torch.randn(3, 8), dim=-1))
    return loss(features, labels)


def test_every_loss_is_covered():
    assert set(LOSSES) == set(CONTRASTIVE) | set(CLASSIFICATION)


FEATURE_CASES = {
    "rank 1": (lambda z, y: (z[:, 0, 0], y), "features"),
    "rank 4": (lambda z, y: (z.unsqueeze(0), y), "features"),
    "integer features": (lambda z, y: (z.long(), y), "features"),
    "float labels": (lambda z, y: (z, y.float()), "labels"),
    "2-D labels": (lambda z, y: (z, y.view(2, 2)), "labels"),
    "fewer labels": (lambda z, y: (z, y[:3]), "labels"),
    "empty batch": (lambda z, y: (z[:0], y[:0]), "features"),
    "NaN features": (
        lambda z, y: (z.masked_fill(torch.arange(z.numel()).view(z.shape) % 3 == 0, float("nan")), y),
        "features",
    ),
    "inf features": (lambda z, y: (z * float("inf"), y), "features"),
}


@pytest.mark.parametrize("case", sorted(FEATURE_CASES))
@pytest.mark.parametrize("name", CONTRASTIVE)
def test_contrastive_losses_reject_bad_inputs(name, case):
    make, argument = FEATURE_CASES[case]
    features, labels = make(*good_features())
    with pytest.raises(ValueError, match=argument):
        call(name, build(name), features, labels)


LOGIT_CASES = {
    "rank 1": (lambda x, y: (x[:, 0], y), "logits"),
    "integer logits": (lambda x, y: (x.long(), y), "logits"),
    "float targets": (lambda x, y: (x, y.float()), "targets"),
    "fewer targets": (lambda x, y: (x, y[:3]), "targets"),
    "empty batch": (lambda x, y: (x[:0], y[:0]), "logits"),
    "NaN logits": (
        lambda x, y: (x.masked_fill(torch.arange(x.numel()).view(x.shape) % 3 == 0, float("nan")), y),
        "logits",
    ),
    "target out of range": (lambda x, y: (x, y.clone().fill_(3)), "targets"),
}


@pytest.mark.parametrize("case", sorted(LOGIT_CASES))
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_losses_reject_bad_inputs(name, case):
    make, argument = LOGIT_CASES[case]
    logits, targets = torch.randn(4, 3), torch.tensor([0, 0, 1, 2])
    if name == "siamese_balanced_softmax":
        logits = torch.randn(4, 2, 3)
        if case == "rank 1":
            logits = logits[:, 0, 0]
            with pytest.raises(ValueError, match="logits"):
                build(name)(logits, targets)
            return
    x, y = make(logits, targets)
    with pytest.raises(ValueError, match=argument):
        build(name)(x, y)


NUMERIC = {  # loss -> its numeric parameters and the bound they must respect
    "supcon": {"temperature": "positive", "base_temperature": "positive"},
    "cl": {"temperature": "positive"},
    "fcl": {"temperature": "positive", "gamma": "nonnegative"},
    "acl": {"temperature": "positive", "eta": "nonnegative"},
    "afcl": {"temperature": "positive", "gamma": "nonnegative", "eta": "nonnegative"},
    "bcl": {"temperature": "positive"},
    "rcl": {
        "temperature": "positive",
        "balance_strength": "nonnegative",
        "feature_scale": "positive",
        "margin": "nonnegative",
        "margin_power": "nonnegative",
    },
    "rescom": {"temperature": "positive", "hard_positives": "count", "hard_negatives": "count"},
    "focal": {"gamma": "nonnegative"},
    "la_ce": {"tau": "nonnegative"},
}
BAD_VALUES = {
    "positive": [-1.0, 0.0, float("nan"), float("inf"), "0.1", True, None, [0.1], torch.tensor([0.1, 0.2])],
    "nonnegative": [-0.5, float("nan"), float("-inf"), "1", True, None, (1.0,)],
    "count": [0, -3, 1.5, "2", True, None],
}


@pytest.mark.parametrize("name, param", [(n, p) for n, ps in NUMERIC.items() for p in ps])
def test_numeric_parameters_are_checked_and_named(name, param):
    for value in BAD_VALUES[NUMERIC[name][param]]:
        with pytest.raises(ValueError, match=param):
            build(name, **{param: value})
    ok = 2 if NUMERIC[name][param] == "count" else 0.5
    for value in (
        np.float32(ok),
        np.int64(ok) if NUMERIC[name][param] == "count" else np.float64(ok),
        torch.tensor(ok),
    ):
        build(name, **{param: value})  # numpy and torch scalars are numbers


@pytest.mark.parametrize("name", sorted(NEEDS_COUNTS))
@pytest.mark.parametrize("counts", [None, "10,5", [[5, 2], [1, 1]], [5], [5, 0], [5, float("nan")]])
def test_class_counts_are_checked_and_named(name, counts):
    with pytest.raises(ValueError, match="class_counts"):
        get_loss(name, class_counts=counts)


def test_get_loss_names_what_is_wrong():
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("simclr")
    with pytest.raises(ValueError, match=r"got unknown \['gama'\]"):
        get_loss("afcl", gama=2.0)
    with pytest.raises(ValueError, match=r"needs the parameters \['class_counts'\]"):
        get_loss("rcl")
    with pytest.raises(ValueError, match="normalization must be one of"):
        get_loss("cl", normalization="batch")
