"""Supervised contrastive loss (SupCon; Khosla et al., NeurIPS 2020), the "CL" of the ACL paper."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from imbalanced_contrastive.losses._common import (
    check_positive,
    contrast_log_prob,
    flatten_views,
    full_precision,
    label_masks,
    masked_row_sum,
    mean_where,
    set_size,
    zero_loss,
)


class SupConLoss(nn.Module):
    r"""Supervised contrastive loss, Khosla et al.'s :math:`\mathcal{L}^{sup}_{out}` (their Eq. 2).

    For the flattened batch of ``N = V*B`` anchors (see :mod:`._common`),

    .. math::

        \ell_i = -\frac{\tau}{\tau_b}\,\frac{1}{|P(i)|}\sum_{p\in P(i)}
                 \log\frac{\exp(z_i\cdot z_p/\tau)}{\sum_{a\ne i}\exp(z_i\cdot z_a/\tau)},

    and the loss is the mean of :math:`\ell_i` over the anchors with at least one positive.
    Anchors without a positive are left out of the mean (the SupContrast PR #142 semantics);
    a batch with no positive pair at all returns a zero that still back-propagates.

    Paper: [0] Supervised Contrastive Learning, NeurIPS 2020, https://arxiv.org/abs/2004.11362

    Args:
        temperature: :math:`\tau > 0` (0.07 in SupCon and the ACL code).
        base_temperature: :math:`\tau_b > 0`; the loss is scaled by :math:`\tau/\tau_b`
            (1 by default, as in the ACL code).

    Raises:
        ValueError: a non-positive or non-finite temperature.

    Examples:
        >>> loss = SupConLoss(temperature=0.1)
        >>> z = torch.nn.functional.normalize(torch.randn(8, 2, 16), dim=-1)
        >>> loss(z, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])).shape
        torch.Size([])
    """

    def __init__(self, temperature: float = 0.07, base_temperature: float = 0.07) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.base_temperature = check_positive("base_temperature", base_temperature)

    def per_anchor(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-anchor losses and which anchors have a positive.

        Returns:
            ``(loss, has_positive)``, each of shape ``[V*B]``; ``loss`` is 0 where
            ``has_positive`` is False.
        """
        z, y, _ = flatten_views(features, labels)
        if z.shape[0] < 2:
            return zero_loss(z).expand(z.shape[0]), torch.zeros(z.shape[0], dtype=torch.bool, device=z.device)
        log_prob = contrast_log_prob(z, self.temperature)
        positives, _ = label_masks(y, z.dtype)
        n_pos = set_size(positives)
        mean_log_prob_pos = masked_row_sum(log_prob, positives) / n_pos.clamp(min=1.0)
        return -(self.temperature / self.base_temperature) * mean_log_prob_pos, n_pos > 0

    @full_precision
    def forward(self, features: torch.Tensor, labels: torch.Tensor, *extra: Any) -> torch.Tensor:
        """Compute the loss (with autocast disabled: in float32, or float64 for float64 features).

        Args:
            features: unit-norm embeddings. Shape: ``[B, V, D]`` or ``[B, D]``.
            labels: class labels. Shape: ``[B]``.
            *extra: nothing (SupCon has no queue or prototypes); anything passed is a named error.

        Returns:
            A 0-dim tensor (float32, or float64 for float64 features).

        Raises:
            TypeError: a third argument (a queue, prototypes, ...) was passed.
        """
        if extra:
            got = ", ".join(type(e).__name__ for e in extra)
            raise TypeError(
                f"{type(self).__name__} takes (features, labels) only; got also {got}. A class-balanced queue is "
                "ResCom's (ClassBalancedSupConLoss), prototypes are BCL's (get_loss('bcl'))"
            )
        loss, valid = self.per_anchor(features, labels)
        return mean_where(loss, valid)
