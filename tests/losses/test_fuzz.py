"""Values and gradients are finite over a grid of more than 1,000 cases (acl issue: fuzz grid)."""

from __future__ import annotations

import itertools

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
