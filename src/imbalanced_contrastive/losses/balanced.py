r"""Balanced contrastive learning (BCL; Zhu et al., CVPR 2022): class-averaging and class-complement.

The contrast set :math:`A` holds the ``N = V*B`` view embeddings and, with class-complement, the
``C`` class prototypes (label ``j`` for prototype ``c_j``). Only the views are anchors. For an
anchor :math:`i` of class :math:`y` (``book/paper_specs.md``, ``spec-bcl-losses``):

.. math::

    L_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)}\Big[\ell_{ip} -
          \log\sum_{k\in A\setminus\{i\}} \frac{\exp(\ell_{ik})}{\omega_{ik}}\Big],
    \qquad \ell_{ik} = z_i\cdot a_k/\tau,

where :math:`P(i)` are the other elements of class :math:`y` (other views and the prototype
:math:`c_y`) and the class-averaging weight :math:`\omega_{ik}` is the number of elements of
:math:`k`'s class in :math:`A\setminus\{i\}`: each class contributes its *average* exponential to
the denominator, whatever its frequency in the batch. Classes absent from the batch still enter
through their prototype (:math:`\omega = 1`): the class-complement. The loss is the mean of
:math:`L_i` over the anchors that have a positive.

The numerator is not divided by :math:`\omega` and the positives stay in the denominator
(SupCon convention), exactly as in the authors' code; so the loss can be negative.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from imbalanced_contrastive.losses._common import (
    check_finite,
    check_labels,
    check_positive,
    exclude_self,
    flatten_views,
    full_precision,
    masked_row_sum,
    mean_where,
    on_host,
    set_size,
)


def check_prototypes(prototypes: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Validate prototypes ``[C, D]`` against flattened features ``[N, D]`` and labels ``[N]``."""
    if not torch.is_tensor(prototypes) or prototypes.dim() != 2 or not prototypes.is_floating_point():
        raise ValueError(
            f"prototypes must be a floating tensor of shape [C, D]; got {getattr(prototypes, 'shape', prototypes)}"
        )
    if prototypes.shape[1] != z.shape[1]:
        raise ValueError(f"prototypes have dimension {prototypes.shape[1]} but features have {z.shape[1]}")
    if on_host(y) and int(y.max()) >= prototypes.shape[0]:
        raise ValueError(f"labels reach class {int(y.max())} but only {prototypes.shape[0]} prototypes were given")
    c = prototypes.to(z.dtype)
    check_finite(c, "prototypes")
    return c


def class_averaged_contrastive(
    features: torch.Tensor,
    labels: torch.Tensor,
    prototypes: torch.Tensor | None,
    temperature: float,
    class_averaging: bool = True,
    similarity_scale: float = 1.0,
    class_logit_offset: torch.Tensor | None = None,
    positive_margin: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The shared core of BCL and RCL: per-anchor losses of the (generalised) BCL formula.

    The logit of anchor :math:`i` (class :math:`y`) against contrast element :math:`k` is

    .. math:: \ell_{ik} = (s\,z_i\cdot a_k - \Delta_y [\tilde y_k = y]) / \tau + b_{\tilde y_k},

    with ``similarity_scale`` :math:`s`, ``positive_margin`` :math:`\Delta` (per anchor class)
    and ``class_logit_offset`` :math:`b` (per contrast class). With :math:`s = 1` and no offsets
    it is BCL (``class_averaging=True`` with prototypes) or SupCon (``False``, no prototypes).

    Args:
        features: unit-norm views. Shape: ``[B, V, D]`` or ``[B, D]``.
        labels: class labels. Shape: ``[B]``.
        prototypes: unit-norm class prototypes (``[C, D]``) or ``None``.
        temperature: :math:`\tau > 0`.
        class_averaging: divide each denominator term by its class size :math:`\omega_{ik}`.
        similarity_scale: :math:`s > 0` (RCL's feature scalar squared).
        class_logit_offset: :math:`b`, shape ``[C]`` (RCL's Balanced-Softmax prior) or ``None``.
        positive_margin: :math:`\Delta`, shape ``[C]`` (RCL's tail margins) or ``None``.

    Returns:
        ``(loss, has_positive)``, both of shape ``[V*B]``.
    """
    z, y, _ = flatten_views(features, labels)
    n = z.shape[0]
    if prototypes is not None:
        c = check_prototypes(prototypes, z, y)
        contrast = torch.cat([z, c])
        contrast_labels = torch.cat([y, torch.arange(c.shape[0], device=y.device)])
    else:
        contrast, contrast_labels = z, y
    for name, vec in (("class_logit_offset", class_logit_offset), ("positive_margin", positive_margin)):
        if vec is not None:
            check_labels(contrast_labels, vec.shape[0], f"labels (for the {vec.shape[0]} entries of {name})")
    same = (y.unsqueeze(1) == contrast_labels.unsqueeze(0)).to(z.dtype)  # [N, M] 0/1, includes k = i
    logits = (z * (similarity_scale / temperature)) @ contrast.T
    if positive_margin is not None:
        margin = positive_margin.to(z.dtype)[y] / temperature
        logits = logits - same * margin.unsqueeze(1)
    if class_logit_offset is not None:
        logits = logits + class_logit_offset.to(z.dtype)[contrast_labels].unsqueeze(0)
    exclude_self(logits)  # A(i) excludes the anchor itself
    positives = same.clone()
    positives[:, :n].diagonal().fill_(0.0)
    n_pos = set_size(positives)
    denominator_logits = logits
    if class_averaging:
        # omega_ik: the size of k's class in A = its views in the batch + its prototype; the anchor
        # leaves its own class. The anchors are the views, so a view's class has as many views as
        # its row of the (symmetric) view block of `same` holds, and prototype c's class as many as
        # its column (a column sum of the whole N x M matrix is slow on the CPU)
        views_of_class = torch.cat([same[:, :n].sum(dim=1), same[:, n:].sum(dim=0)])
        class_size = views_of_class + (1.0 if prototypes is not None else 0.0)
        omega = class_size.unsqueeze(0) - same
        denominator_logits = logits - torch.log(omega.clamp(min=1.0))
    log_denominator = torch.logsumexp(denominator_logits, dim=1)
    loss = log_denominator - masked_row_sum(logits, positives) / n_pos.clamp(min=1.0)
    has_positive = n_pos > 0
    return torch.where(has_positive, loss, loss.new_zeros(())), has_positive


class BalancedContrastiveLoss(nn.Module):
    r"""BCL's contrastive loss (Zhu et al., CVPR 2022); see the module docstring for the formula.

    Paper: [0] Balanced Contrastive Learning for Long-Tailed Visual Recognition, CVPR 2022,
    https://arxiv.org/abs/2207.09052

    Args:
        temperature: :math:`\tau > 0` (0.1 on CIFAR-LT, 0.07 on ImageNet-LT).

    Examples:
        >>> loss = BalancedContrastiveLoss(0.1)
        >>> z = torch.nn.functional.normalize(torch.randn(4, 2, 8), dim=-1)
        >>> c = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
        >>> loss(z, torch.tensor([0, 0, 1, 2]), c).shape
        torch.Size([])
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)

    @full_precision
    def forward(
        self, features: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Compute the loss (with autocast disabled: in float32, or float64 for float64 features).

        Args:
            features: unit-norm views. Shape: ``[B, V, D]`` (BCL uses ``V = 2``) or ``[B, D]``.
            labels: class labels. Shape: ``[B]``.
            prototypes: unit-norm class prototypes ``[C, D]`` (class-complement), or ``None`` for
                the class-averaging-only ablation.

        Returns:
            A 0-dim tensor: the mean per-anchor loss over anchors with a positive.
        """
        if prototypes is not None:
            if not torch.is_tensor(prototypes) or prototypes.dim() != 2:
                raise ValueError(
                    f"prototypes must be a tensor [C, D]; got {getattr(prototypes, 'shape', prototypes)!r}"
                )
            check_labels(labels, prototypes.shape[0])
        loss, valid = class_averaged_contrastive(features, labels, prototypes, self.temperature, class_averaging=True)
        return mean_where(loss, valid)
