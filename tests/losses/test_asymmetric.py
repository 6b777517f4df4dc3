"""CL / FCL / ACL / AFCL against the loop references, golden values, reductions and bounds."""

from __future__ import annotations

import math

import pytest
import reference
import torch
import torch.nn.functional as F

from imbalanced_contrastive.losses import (
    AsymmetricContrastiveLoss,
    AsymmetricFocalContrastiveLoss,
    ContrastiveLoss,
    FocalContrastiveLoss,
    SupConLoss,
)

TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-5)}


def batch(b, v, d, c, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(b, v, d, generator=g, dtype=torch.float64), dim=-1).to(dtype)
    y = torch.randint(0, c, (b,), generator=g)
    return (z if v > 1 else z[:, 0]), y


CASES = [
    # b, v, d, c, tau, gamma, eta
    (2, 2, 4, 2, 0.5, 0.0, 0.0),
    (3, 1, 4, 2, 0.5, 1.0, 2.0),
    (5, 2, 3, 2, 0.07, 2.0, 300.0),
    (7, 1, 8, 3, 0.1, 0.5, 10.0),
    (9, 2, 16, 4, 0.2, 1.5, 100.0),
    (12, 1, 5, 10, 1.0, 3.3, 1.0),
    (16, 2, 32, 5, 0.07, 0.0, 250.0),
    (20, 2, 8, 3, 0.3, 7.5, 50.0),
    (33, 1, 128, 6, 0.07, 2.0, 300.0),
]


@pytest.mark.parametrize("normalization", ["official", "paper"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("b, v, d, c, tau, gamma, eta", CASES)
def test_afcl_equals_loop_reference(b, v, d, c, tau, gamma, eta, normalization, dtype):
    z, y = batch(b, v, d, c, seed=b * 31 + v, dtype=dtype)
    got = AsymmetricFocalContrastiveLoss(tau, gamma, eta, normalization)(z, y)
    want = reference.afcl(z.double(), y, tau, gamma, eta, normalization)
    assert got.dtype == dtype
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **TOL[dtype])


def _angles(degrees):
    return torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in degrees], dtype=torch.float64)


# A golden case worked out by hand: 2-D unit vectors at 0, 30, 90 and 180 degrees.
GOLDEN = [
    ([0, 0, 1, 1], 0.5, 0, 0, 0.15123847, 0.60495389),
    ([0, 0, 1, 1], 0.5, 2, 0, 0.06446640, 0.25786561),
    ([0, 0, 1, 1], 0.5, 0, 1, 0.27207241, 0.84662177),
    ([0, 0, 1, 1], 0.5, 2, 1, 0.18530034, 0.49953349),
    ([0, 0, 1, 1], 0.07, 0, 0, 0.44686193, 1.78744772),
    ([0, 0, 1, 1], 0.07, 2, 300, 121.52269657, 243.93703865),
    ([0, 0, 0, 1], 0.5, 0, 0, 0.36001477, 0.72002955),
    ([0, 0, 0, 1], 0.5, 2, 1, 0.31305831, 0.59063215),
    ([0, 0, 0, 1], 0.07, 0, 1, 2.31202783, 4.11439540),
    ([0, 0, 0, 1], 0.07, 2, 300, 230.94905261, 309.00002613),
]


@pytest.mark.parametrize("labels, tau, gamma, eta, official, paper", GOLDEN)
def test_golden_values(labels, tau, gamma, eta, official, paper):
    z, y = _angles([0, 30, 90, 180]), torch.tensor(labels)
    assert AsymmetricFocalContrastiveLoss(tau, gamma, eta, "official")(z, y).item() == pytest.approx(official, abs=5e-9)
    assert AsymmetricFocalContrastiveLoss(tau, gamma, eta, "paper")(z, y).item() == pytest.approx(paper, abs=5e-9)


def test_hand_placed_two_by_two():
    # Two classes, two points each, all four at angle 0/180 degrees: anchor 0 sees its positive at
    # similarity 1 and two negatives at -1, so p_pos = e^{1/t} / (e^{1/t} + 2 e^{-1/t}).
    z = _angles([0, 0, 180, 180])
    y = torch.tensor([0, 0, 1, 1])
    t = 0.5
    p_pos = math.exp(1 / t) / (math.exp(1 / t) + 2 * math.exp(-1 / t))
    p_neg = math.exp(-1 / t) / (math.exp(1 / t) + 2 * math.exp(-1 / t))
    cl_paper = -math.log(p_pos)
    assert ContrastiveLoss(t, "paper")(z, y).item() == pytest.approx(cl_paper, rel=1e-12)
    assert ContrastiveLoss(t, "official")(z, y).item() == pytest.approx(cl_paper / 4, rel=1e-12)
    acl = AsymmetricContrastiveLoss(t, eta=3.0, normalization="paper")(z, y).item()
    assert acl == pytest.approx(cl_paper - 3.0 * math.log(1 - p_neg), rel=1e-12)


@pytest.mark.parametrize("normalization", ["official", "paper"])
@pytest.mark.parametrize("seed", range(5))
def test_reductions_are_exact(normalization, seed):
    z, y = batch(10, 2, 8, 3, seed)
    t, g, e = 0.1, 2.5, 120.0
    afcl = lambda g_, e_: AsymmetricFocalContrastiveLoss(t, g_, e_, normalization)(z, y)  # noqa: E731
    assert torch.equal(afcl(0.0, e), AsymmetricContrastiveLoss(t, e, normalization)(z, y))
    assert torch.equal(afcl(g, 0.0), FocalContrastiveLoss(t, g, normalization)(z, y))
    assert torch.equal(afcl(0.0, 0.0), ContrastiveLoss(t, normalization)(z, y))
    assert torch.equal(AsymmetricContrastiveLoss(t, 0.0, normalization)(z, y), ContrastiveLoss(t, normalization)(z, y))
    assert torch.equal(FocalContrastiveLoss(t, 0.0, normalization)(z, y), ContrastiveLoss(t, normalization)(z, y))


@pytest.mark.parametrize("seed", range(5))
def test_paper_cl_equals_supcon_when_every_anchor_has_a_positive(seed):
    z, y = batch(12, 2, 16, 5, seed)  # two views: every anchor has at least its other view
    for t in (0.07, 0.5):
        torch.testing.assert_close(ContrastiveLoss(t, "paper")(z, y), SupConLoss(t, t)(z, y), rtol=1e-12, atol=1e-12)


def test_official_cl_weights_anchors_by_positive_count():
    # spec-acl-losses (book/paper_specs.md): official per-anchor CL = |P(i)|/N x SupCon per-anchor loss.
    z, y = batch(9, 2, 8, 3, 0)
    per_official = AsymmetricFocalContrastiveLoss(0.1, normalization="official").per_anchor(z, y)
    per_supcon, _ = SupConLoss(0.1, 0.1).per_anchor(z, y)
    yy = y.repeat(2)
    n_pos = (yy.unsqueeze(0) == yy.unsqueeze(1)).sum(1) - 1
    torch.testing.assert_close(per_official, per_supcon * n_pos / 18, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalization", ["official", "paper"])
def test_bounds_fcl_le_cl_le_acl(normalization):
    for seed in range(10):
        z, y = batch(10, 2, 8, 3, seed)
        cl = ContrastiveLoss(0.1, normalization)(z, y)
        for gamma in (0.5, 1.0, 4.0):
            assert FocalContrastiveLoss(0.1, gamma, normalization)(z, y) <= cl
        for eta in (1.0, 100.0):
            assert AsymmetricContrastiveLoss(0.1, eta, normalization)(z, y) >= cl
        # non-increasing in gamma, linear in eta
        losses = [FocalContrastiveLoss(0.1, g, normalization)(z, y).item() for g in (0, 1, 2, 3)]
        assert losses == sorted(losses, reverse=True)
        a0, a1, a2 = (AsymmetricContrastiveLoss(0.1, e, normalization)(z, y).item() for e in (0, 50, 100))
        assert a2 - a1 == pytest.approx(a1 - a0, rel=1e-9)


def test_paper_cl_is_bounded_below_by_log_positive_count():
    z, y = batch(16, 2, 8, 3, 1)
    per = AsymmetricFocalContrastiveLoss(0.1, normalization="paper").per_anchor(z, y)
    yy = y.repeat(2)
    n_pos = ((yy.unsqueeze(0) == yy.unsqueeze(1)).sum(1) - 1).double()
    assert (per >= torch.log(n_pos) - 1e-12).all()


def test_non_integer_gamma_is_finite_with_gradients():
    # The authors' code returns NaN for non-integer gamma (spec-acl-losses); ours must not.
    z, y = batch(8, 2, 16, 3, 2, dtype=torch.float32)
    z.requires_grad_(True)
    loss = AsymmetricFocalContrastiveLoss(0.07, gamma=0.5, eta=300.0)(z, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_two_samples_with_different_labels_are_finite():
    # p_in = 1 exactly: log(1 - p) would be -inf; ours is bounded by log(eps).
    for dtype in (torch.float32, torch.float64):
        z = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=dtype, requires_grad=True)
        y = torch.tensor([0, 1])
        loss = AsymmetricFocalContrastiveLoss(0.07, gamma=1.5, eta=10.0)(z, y)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
        assert loss.item() == pytest.approx(-10.0 * math.log(torch.finfo(dtype).eps) / 2, rel=1e-6)


def test_half_precision_inputs_are_upcast():
    z, y = batch(32, 2, 128, 4, 3, dtype=torch.float32)
    want = AsymmetricFocalContrastiveLoss(0.01, 2.0, 100.0)(z, y)
    for dtype in (torch.bfloat16, torch.float16):
        got = AsymmetricFocalContrastiveLoss(0.01, 2.0, 100.0)(z.to(dtype), y)
        assert got.dtype == torch.float32 and torch.isfinite(got)
        torch.testing.assert_close(got, want, rtol=0.05, atol=0.05)


def test_gradcheck_float64():
    z, y = batch(6, 2, 4, 2, 4)
    z.requires_grad_(True)
    for normalization in ("official", "paper"):
        loss = AsymmetricFocalContrastiveLoss(0.2, gamma=1.7, eta=5.0, normalization=normalization)
        assert torch.autograd.gradcheck(lambda f, loss=loss: loss(f, y), (z,), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(lambda f: SupConLoss(0.2)(f, y), (z,), eps=1e-6, atol=1e-6)


def test_single_sample_and_single_class():
    z = F.normalize(torch.randn(1, 4, dtype=torch.float64), dim=-1).requires_grad_(True)
    loss = AsymmetricFocalContrastiveLoss(0.1, 2.0, 10.0)(z, torch.tensor([3]))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(z.grad, torch.zeros_like(z))
    z2, _ = batch(6, 2, 4, 1, 0)
    y2 = torch.zeros(6, dtype=torch.long)
    assert AsymmetricContrastiveLoss(0.1, eta=100.0)(z2, y2) == ContrastiveLoss(0.1)(z2, y2)  # no negatives


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"gamma": -0.1}, "gamma"),
        ({"eta": -1.0}, "eta"),
        ({"eta": float("nan")}, "eta"),
        ({"normalization": "mean"}, "normalization must be one of"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsymmetricFocalContrastiveLoss(**kwargs)


@pytest.mark.parametrize(
    "features, labels, match",
    [
        (torch.randn(4, 2, 3, 5), torch.arange(4), r"\[B, V, D\]"),
        (torch.randn(4), torch.arange(4), r"\[B, V, D\]"),
        (torch.randn(4, 3), torch.arange(5), "batch size 4"),
        (torch.randn(4, 3), torch.arange(4).view(2, 2), "labels must be a 1-D"),
        (torch.randn(4, 3), torch.arange(4).float(), "integer"),
        (torch.arange(12).view(4, 3), torch.arange(4), "floating-point"),
        (torch.full((2, 3), float("nan")), torch.arange(2), "NaN"),
    ],
)
def test_invalid_inputs(features, labels, match):
    for loss in (AsymmetricFocalContrastiveLoss(), SupConLoss()):
        with pytest.raises(ValueError, match=match):
            loss(features, labels)
