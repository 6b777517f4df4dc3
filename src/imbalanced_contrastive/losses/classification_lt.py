"""Prior-corrected cross-entropies for long-tailed data: logit adjustment and Balanced Softmax."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from imbalanced_contrastive.losses._common import check_class_counts, check_nonnegative, compute_dtype, full_precision
from imbalanced_contrastive.losses.classification import _check_logits


class LogitAdjustedCrossEntropy(nn.Module):
    r"""Logit-adjusted cross-entropy (Menon et al., ICLR 2021), BCL's classification loss:

    .. math:: \mathcal{L} = \frac{1}{B}\sum_n -\log\frac{\exp(\eta_{n,y_n} + \tau\log\pi_{y_n})}
              {\sum_j \exp(\eta_{n,j} + \tau\log\pi_j)},\qquad \pi_j = n_j / \sum_k n_k.

    The prior is added at training time only; predict with the raw logits.

    Paper: [0] Long-tail learning via logit adjustment, https://arxiv.org/abs/2007.07314

    Args:
        class_counts: training samples per class (``[C]``, each >= 1).
        tau: strength of the adjustment (BCL fixes 1.0; 0 gives plain cross-entropy).
    """

    def __init__(self, class_counts, tau: float = 1.0) -> None:
        super().__init__()
        counts = check_class_counts(class_counts)
        self.tau = check_nonnegative("tau", tau)
        self.register_buffer("log_prior", torch.log(counts / counts.sum()))

    @property
    def num_classes(self) -> int:
        return int(self.log_prior.numel())

    @full_precision
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``logits`` ``[B, C]``, ``targets`` ``[B]`` -> 0-dim mean loss (in float32, autocast disabled)."""
        _check_logits(logits, targets)
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"logits have {logits.shape[1]} classes but class_counts lists {self.num_classes}")
        logits = logits.to(compute_dtype(logits.dtype))
        return F.cross_entropy(logits + self.tau * self.log_prior.to(logits.dtype), targets)


class BalancedSoftmaxLoss(LogitAdjustedCrossEntropy):
    """Balanced Softmax (Ren et al., NeurIPS 2020): logit adjustment with ``tau = 1``.

    Paper: [0] Balanced Meta-Softmax for Long-Tailed Visual Recognition, https://arxiv.org/abs/2007.10740
    """

    def __init__(self, class_counts) -> None:
        super().__init__(class_counts, tau=1.0)


class SiameseBalancedSoftmaxLoss(BalancedSoftmaxLoss):
    """ResCom's Siamese Balanced Softmax: Balanced Softmax on the logits of every view.

    ``forward(logits [B, V, C], targets [B])`` flattens the views view-major (labels repeated)
    and averages over the ``V*B`` rows, i.e. ``BalancedSoftmaxLoss`` on the concatenated views.
    """

    @full_precision
    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``logits`` ``[B, V, C]`` (or ``[B, C]``), ``targets`` ``[B]`` -> 0-dim mean loss."""
        if not torch.is_tensor(logits):
            raise ValueError(
                f"logits must be a floating tensor of shape [B, V, C] or [B, C]; got {type(logits).__name__} "
                "(convert it with torch.as_tensor)"
            )
        if logits.dim() == 2:
            return super().forward(logits, targets)
        if logits.dim() != 3:
            raise ValueError(f"logits must have shape [B, V, C] or [B, C]; got {tuple(logits.shape)}")
        b, v, c = logits.shape
        return super().forward(logits.transpose(0, 1).reshape(v * b, c), targets.repeat(v))
