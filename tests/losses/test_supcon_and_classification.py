"""SupCon against its loop reference and degenerate batches; focal loss; the registry."""

from __future__ import annotations

import pytest
import reference
import torch
import torch.nn.functional as F

from imbalanced_contrastive.losses import (
    LOSSES,
    AsymmetricFocalContrastiveLoss,
    CrossEntropyLoss,
    FocalLoss,
    SupConLoss,
    get_loss,
)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize(
    "b, v, c, tau, base", [(4, 1, 2, 0.07, 0.07), (9, 2, 3, 0.1, 0.07), (17, 2, 8, 0.5, 1.0), (30, 1, 4, 1.0, 1.0)]
)
def test_supcon_equals_loop_reference(b, v, c, tau, base, dtype, tol):
    g = torch.Generator().manual_seed(b)
    z = F.normalize(torch.randn(b, v, 16, generator=g, dtype=torch.float64), dim=-1).to(dtype)
    y = torch.randint(0, c, (b,), generator=g)
    got = SupConLoss(tau, base)(z, y)
    torch.testing.assert_close(
        got, torch.tensor(reference.supcon(z.double(), y, tau, base), dtype=dtype), rtol=tol, atol=tol
    )


def test_supcon_leaves_out_anchors_without_positives():
    z = F.normalize(torch.randn(5, 8, dtype=torch.float64), dim=-1)
    y = torch.tensor([0, 0, 1, 2, 3])  # only anchors 0 and 1 have a positive
    loss, valid = SupConLoss(0.1).per_anchor(z, y)
    assert valid.tolist() == [True, True, False, False, False]
    assert SupConLoss(0.1)(z, y) == loss[:2].mean()


def test_supcon_without_any_positive_is_a_differentiable_zero():
    z = F.normalize(torch.randn(4, 8), dim=-1).requires_grad_(True)
    loss = SupConLoss()(z, torch.arange(4))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(z.grad, torch.zeros_like(z))
    one = F.normalize(torch.randn(1, 8), dim=-1).requires_grad_(True)
    SupConLoss()(one, torch.tensor([0])).backward()
    assert torch.equal(one.grad, torch.zeros_like(one))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_focal_loss_reference(gamma):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 5, generator=g, dtype=torch.float64) * 4
    t = torch.randint(0, 5, (12,), generator=g)
    alpha = [0.1, 0.2, 0.3, 0.2, 0.2]
    assert FocalLoss(gamma)(logits, t).item() == pytest.approx(reference.focal(logits, t, gamma), rel=1e-10)
    assert FocalLoss(gamma, alpha)(logits, t).item() == pytest.approx(
        reference.focal(logits, t, gamma, alpha), rel=1e-10
    )


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, t = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 4, (8,))
    torch.testing.assert_close(FocalLoss(0.0)(logits, t), F.cross_entropy(logits, t))
    torch.testing.assert_close(CrossEntropyLoss()(logits, t), F.cross_entropy(logits, t))


def test_focal_loss_is_finite_for_confident_logits():
    logits = torch.tensor([[80.0, -80.0], [-80.0, 80.0]], requires_grad=True)
    loss = FocalLoss(0.5)(logits, torch.tensor([0, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_focal_loss_validation():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(-1.0)
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(1.0, [-1.0, 1.0])
    with pytest.raises(ValueError, match=r"\[B, C\]"):
        FocalLoss()(torch.randn(3), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="targets must lie"):
        FocalLoss()(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="alpha has 2 weights"):
        FocalLoss(1.0, [1.0, 1.0])(torch.randn(2, 3), torch.tensor([0, 1]))


def test_registry():
    loss = get_loss("afcl", gamma=2.0, eta=100.0)
    assert isinstance(loss, AsymmetricFocalContrastiveLoss) and loss.gamma == 2.0 and loss.eta == 100.0
    assert get_loss("AFCL").normalization == "official"
    assert {"supcon", "cl", "fcl", "acl", "afcl", "focal", "ce"} <= set(LOSSES)
    with pytest.raises(ValueError, match=r"loss must be one of \["):
        get_loss("infonce")
    with pytest.raises(ValueError, match=r"takes the parameters .*unknown \['eta'\]"):
        get_loss("fcl", eta=1.0)
    with pytest.raises(ValueError, match="eta must be"):
        get_loss("acl", eta=-5.0)
