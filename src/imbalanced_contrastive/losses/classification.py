"""Classification losses for the second stage of the ACL paper: cross-entropy and focal loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from imbalanced_contrastive.losses._common import (
    check_finite,
    check_nonnegative,
    compute_dtype,
    full_precision,
    on_host,
    one_minus,
)


def _check_logits(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if not torch.is_tensor(logits) or logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating tensor of shape [B, C]; got {getattr(logits, 'shape', logits)}")
    if (
        not torch.is_tensor(targets)
        or targets.dim() != 1
        or targets.is_floating_point()
        or targets.is_complex()
        or targets.dtype == torch.bool
    ):
        got = (
            f"dtype {targets.dtype}, shape {tuple(targets.shape)}"
            if torch.is_tensor(targets)
            else type(targets).__name__
        )
        raise ValueError(f"targets must be a 1-D integer tensor of class indices, shape [B]; got {got}")
    if targets.shape[0] != logits.shape[0]:
        raise ValueError(f"targets has {targets.shape[0]} entries but logits has batch size {logits.shape[0]}")
    if logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(f"logits must hold at least one sample and two classes; got shape {tuple(logits.shape)}")
    check_finite(logits, "logits")
    if targets.numel() and on_host(targets) and (int(targets.min()) < 0 or int(targets.max()) >= logits.shape[1]):
        raise ValueError(f"targets must lie in [0, {logits.shape[1] - 1}]")


class FocalLoss(nn.Module):
    r"""Focal loss (Lin et al., ICCV 2017): :math:`-\alpha_{y}(1-p_y)^\gamma\log p_y`, averaged.

    Paper: [0] Focal Loss for Dense Object Detection, https://arxiv.org/abs/1708.02002

    Args:
        gamma: focusing parameter :math:`\gamma \ge 0`; 0 gives cross-entropy.
        alpha: ``None`` (no weighting) or one weight >= 0 per class.

    Raises:
        ValueError: negative γ or weights.
    """

    def __init__(self, gamma: float = 2.0, alpha: Sequence[float] | torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = check_nonnegative("gamma", gamma)
        if alpha is not None:
            alpha = torch.as_tensor(alpha, dtype=torch.float64)
            if alpha.dim() != 1:
                raise ValueError(f"alpha must be 1-D (one weight per class); got shape {tuple(alpha.shape)}")
            if (alpha < 0).any() or not torch.isfinite(alpha).all():
                raise ValueError("alpha must hold finite class weights >= 0")
            self.register_buffer("alpha", alpha)
        else:
            self.alpha = None

    @full_precision
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``logits`` ``[B, C]``, ``targets`` ``[B]`` -> 0-dim mean loss (in float32, autocast disabled)."""
        _check_logits(logits, targets)
        logits = logits.to(compute_dtype(logits.dtype))
        logp = F.log_softmax(logits, dim=1).gather(1, targets.view(-1, 1)).squeeze(1)
        loss = -logp if self.gamma == 0 else -one_minus(logp.exp()).pow(self.gamma) * logp
        if self.alpha is not None:
            if self.alpha.numel() != logits.shape[1]:
                raise ValueError(f"alpha has {self.alpha.numel()} weights but logits have {logits.shape[1]} classes")
            loss = loss * self.alpha.to(loss.dtype)[targets]
        return loss.mean()


class CrossEntropyLoss(FocalLoss):
    """Plain cross-entropy with the same input checks (``FocalLoss`` with ``gamma = 0``)."""

    def __init__(self, alpha: Sequence[float] | torch.Tensor | None = None) -> None:
        super().__init__(gamma=0.0, alpha=alpha)
