"""Values and gradients are finite: a grid of 2,496 AFCL/SupCon cases and 8,000 random cases over
every loss family (more than 10,000 in all, small shapes, one process)."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from imbalanced_contrastive.losses import AsymmetricFocalContrastiveLoss, SupConLoss

TAUS = (0.01, 0.05, 0.2, 1.0)
GAMMAS = (0.0, 0.3, 2.0, 10.0)
ETAS = (0.0, 1.0, 500.0)
BATCHES = (
    ("B=1", [0]),
    ("B=2 same", [1, 1]),
    ("B=2 different", [0, 1]),
    ("one class", [2] * 6),
    ("singletons", [0, 1, 2, 3, 4, 5]),
    ("imbalanced", [0] * 9 + [1, 2]),
)


def test_fuzz_grid_is_finite():
    cases = 0
    g = torch.Generator().manual_seed(0)
    for (name, labels), views, dtype, norm in itertools.product(
        BATCHES, (1, 2), (torch.float32, torch.bfloat16), ("official", "paper")
    ):
        y = torch.tensor(labels)
        base = F.normalize(torch.randn(len(labels), views, 16, generator=g), dim=-1)
        # near-duplicate embeddings make probabilities saturate: the hardest numerical case
        base[: len(labels) // 2] = F.normalize(base[:1] + 1e-4 * base[: len(labels) // 2], dim=-1)
        for tau, gamma, eta in itertools.product(TAUS, GAMMAS, ETAS):
            z = base.clone().to(dtype).requires_grad_(True)
            loss = AsymmetricFocalContrastiveLoss(tau, gamma, eta, norm)(z, y)
            loss.backward()
            ok = torch.isfinite(loss) and torch.isfinite(z.grad.float()).all()
            assert ok, f"non-finite for {name}, V={views}, {dtype}, {norm}, tau={tau}, gamma={gamma}, eta={eta}"
            cases += 1
        for tau in TAUS:
            z = base.clone().to(dtype).requires_grad_(True)
            loss = SupConLoss(tau)(z, y)
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(z.grad.float()).all(), f"SupCon {name} tau={tau}"
            cases += 1
    assert cases >= 1000


def _random_case(g: torch.Generator):
    """One random loss, parameters and batch: small shapes, all recipes' losses, hard geometries."""
    from imbalanced_contrastive.losses import (
        BalancedContrastiveLoss,
        BalancedSoftmaxLoss,
        ClassBalancedQueue,
        ClassBalancedSupConLoss,
        FocalLoss,
        LogitAdjustedCrossEntropy,
        RebalancedContrastiveLoss,
    )

    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=g))]

    c = int(torch.randint(2, 6, (1,), generator=g))
    b = int(torch.randint(1, 13, (1,), generator=g))
    v = pick((1, 2, 3))
    y = torch.randint(c, (b,), generator=g)
    counts = (torch.randint(1, 500, (c,), generator=g)).tolist()
    z = F.normalize(torch.randn(b, v, 8, generator=g, dtype=torch.float64), dim=-1)
    geometry = pick(("random", "duplicates", "antipodal"))
    if geometry == "duplicates":
        z = F.normalize(z[:1] + 1e-5 * z, dim=-1)
    elif geometry == "antipodal":
        z[b // 2 :] = -z[:1]
    dtype = pick((torch.float32, torch.float64, torch.bfloat16))
    tau = pick((0.01, 0.07, 0.5, 2.0))
    kind = pick(("afcl", "supcon", "bcl", "rcl", "rescom", "focal", "la_ce", "balanced_softmax"))
    if kind == "afcl":
        return (
            AsymmetricFocalContrastiveLoss(
                tau, pick((0.0, 0.5, 2.0, 7.0)), pick((0.0, 1.0, 300.0)), pick(("official", "paper"))
            ),
            (z, y),
            dtype,
        )
    if kind == "supcon":
        return SupConLoss(tau), (z, y), dtype
    protos = F.normalize(torch.randn(c, 8, generator=g, dtype=torch.float64), dim=-1)
    if kind == "bcl":
        return BalancedContrastiveLoss(tau), (z, y, pick((protos, None))), dtype
    if kind == "rcl":
        loss = RebalancedContrastiveLoss(
            counts,
            tau,
            class_averaging=pick((True, False)),
            class_complement=True,
            balance_strength=pick((0.0, 1.0)),
            feature_scale=pick((1.0, 1.2247, 3.0)),
            margin=pick((0.0, 0.1, 0.5)),
        )
        return loss, (z, y, protos), dtype
    if kind == "rescom":
        queue = ClassBalancedQueue(c, 3, 8, seed=int(torch.randint(100, (1,), generator=g)))
        loss = ClassBalancedSupConLoss(
            counts,
            tau,
            beta=pick((0.0, 0.99, 0.999999)),
            hard_positives=pick((1, 3)),
            hard_negatives=pick((1, 3 * (c - 1))),
        )
        return loss, (z, y, pick((queue, None))), dtype
    logits = 10 * torch.randn(b, c, generator=g, dtype=torch.float64)
    if kind == "focal":
        return FocalLoss(pick((0.0, 2.0, 5.0))), (logits, y), dtype
    if kind == "la_ce":
        return LogitAdjustedCrossEntropy(counts, pick((0.0, 1.0))), (logits, y), dtype
    return BalancedSoftmaxLoss(counts), (logits, y), dtype


@pytest.mark.slow
def test_fuzz_every_loss_is_finite():
    """8,000 random cases over every loss family (with the grid above: more than 10,000 cases):
    values and gradients are finite for every valid input."""
    g = torch.Generator().manual_seed(1)
    for case in range(8000):
        loss, args, dtype = _random_case(g)
        x = args[0].clone().to(dtype).requires_grad_(True)
        value = loss(x, *args[1:])
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(x.grad.float()).all(), (
            f"case {case}: non-finite {type(loss).__name__} for input of shape {tuple(x.shape)}, {dtype}"
        )
