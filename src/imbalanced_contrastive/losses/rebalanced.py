r"""RCL, the rebalanced contrastive loss of De Alvis et al. (arXiv 2312.01753) — **a reconstruction**.

**The paper's exact loss was not available** when this library was written: only its abstract
could be read (``book/paper_specs.md``, ``spec-rcl-reconstruction``). The abstract names three mechanisms added
to the supervised contrastive loss inside the BCL framework; this module implements the
reconstruction of ``spec-rcl-reconstruction``, with every mechanism a switch:

(a) **Balanced-Softmax prior** (``balance_strength`` :math:`\rho`): each contrast element's logit
    is shifted by :math:`\rho\log n_{\tilde y_k}`, its class's training count;
(b) **scalar-multiplied features** (``feature_scale`` :math:`\lambda`): anchor and contrast
    features are multiplied by :math:`\lambda`, so similarities by :math:`\lambda^2`;
(c) **larger margins for tail classes** (``margin`` :math:`m`, ``margin_power`` :math:`q`): same-
    class logits of an anchor of class :math:`y` are lowered by
    :math:`\Delta_y = m\,(n_{\min}/n_y)^q` (LDAM's :math:`n^{-1/4}` law for :math:`q = 1/4`).

.. math::

    \ell_{ik} = \frac{\lambda^2 z_i\cdot a_k - \Delta_y[\tilde y_k = y]}{\tau} + \rho\log n_{\tilde y_k},
    \qquad L_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)}\Big[\ell_{ip} -
    \log\sum_{k\ne i}\frac{e^{\ell_{ik}}}{\omega_{ik}}\Big]

with BCL's class-averaging :math:`\omega` (``class_averaging``) and prototypes
(``class_complement``). Reductions (tested): all mechanisms neutral (:math:`\rho = 0`,
:math:`\lambda = 1`, :math:`m = 0`) gives BCL; additionally without class averaging and
complement it gives SupCon. Numbers produced with this loss are *not* the paper's.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from imbalanced_contrastive.losses._common import (
    check_class_counts,
    check_flag,
    check_labels,
    check_nonnegative,
    check_positive,
    full_precision,
    mean_where,
)
from imbalanced_contrastive.losses.balanced import class_averaged_contrastive


class RebalancedContrastiveLoss(nn.Module):
    r"""RCL (reconstructed; see the module docstring — the paper's exact form was unavailable).

    Paper: [0] Long-Tail Learning with Rebalanced Contrastive Loss, https://arxiv.org/abs/2312.01753

    Args:
        class_counts: training samples per class, ``[C]`` (each >= 1).
        temperature: :math:`\tau > 0`.
        class_averaging: BCL's class-averaged denominator.
        class_complement: use the class prototypes passed to ``forward`` (ignored when ``False``).
        balance_strength: :math:`\rho \ge 0` of the Balanced-Softmax prior (0 disables it).
        feature_scale: :math:`\lambda > 0` (1 disables it; similarities scale by :math:`\lambda^2`).
        margin: largest tail margin :math:`m \ge 0`, in cosine units (0 disables it).
        margin_power: exponent :math:`q \ge 0` of the margin law (1/4 as in LDAM).

    Raises:
        ValueError: an argument outside the ranges above, naming it.
    """

    def __init__(
        self,
        class_counts,
        temperature: float = 0.1,
        class_averaging: bool = True,
        class_complement: bool = True,
        balance_strength: float = 1.0,
        feature_scale: float = 1.0,
        margin: float = 0.0,
        margin_power: float = 0.25,
    ) -> None:
        super().__init__()
        counts = check_class_counts(class_counts)
        self.temperature = check_positive("temperature", temperature)
        self.class_averaging = check_flag("class_averaging", class_averaging)
        self.class_complement = check_flag("class_complement", class_complement)
        self.balance_strength = check_nonnegative("balance_strength", balance_strength)
        self.feature_scale = check_positive("feature_scale", feature_scale)
        self.margin = check_nonnegative("margin", margin)
        self.margin_power = check_nonnegative("margin_power", margin_power)
        self.register_buffer("log_counts", torch.log(counts))
        self.register_buffer("margins", self.margin * (counts.min() / counts) ** self.margin_power)

    @property
    def num_classes(self) -> int:
        return int(self.log_counts.numel())

    @full_precision
    def forward(
        self, features: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Compute the loss (with autocast disabled: in float32, or float64 for float64 features).

        Args:
            features: unit-norm views. Shape: ``[B, V, D]`` or ``[B, D]``.
            labels: class labels in ``[0, C)``. Shape: ``[B]``.
            prototypes: unit-norm class prototypes ``[C, D]``; used when ``class_complement``.

        Returns:
            A 0-dim tensor: the mean per-anchor loss over anchors with a positive.
        """
        if self.class_complement and prototypes is None:
            raise ValueError("class_complement=True needs prototypes [C, D]; pass them or set class_complement=False")
        check_labels(labels, self.num_classes)
        if prototypes is not None and self.class_complement and prototypes.shape[0] != self.num_classes:
            raise ValueError(f"got {prototypes.shape[0]} prototypes for {self.num_classes} classes")
        loss, valid = class_averaged_contrastive(
            features,
            labels,
            prototypes if self.class_complement else None,
            self.temperature,
            class_averaging=self.class_averaging,
            similarity_scale=self.feature_scale**2,
            class_logit_offset=self.balance_strength * self.log_counts if self.balance_strength else None,
            positive_margin=self.margins if self.margin else None,
        )
        return mean_where(loss, valid)
