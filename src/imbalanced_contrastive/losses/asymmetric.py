r"""The asymmetric (focal) contrastive losses of Vito & Stefanus (2022): CL, FCL, ACL, AFCL.

With :math:`p_{ij} = \exp(s_{ij}) / \sum_{a\ne i}\exp(s_{ia})`, :math:`s_{ij} = z_i\cdot z_j/\tau`,
positives :math:`P(i)` and negatives :math:`N(i)` of anchor :math:`i`
(the book's appendix ``book/paper_specs.md``, section ``spec-acl-losses``), the per-anchor AFCL is

.. math::

    \ell_i = -\frac{1}{c_P(i)}\sum_{p\in P(i)} (1-p_{ip})^\gamma \log p_{ip}
             -\frac{\eta}{c_N(i)}\sum_{n\in N(i)} \log(1-p_{in}),

and the loss is the mean of :math:`\ell_i` over all ``N = V*B`` anchors. The focal factor acts on
positives only; the negative ("asymmetric") term is the ``y = 0`` branch of a binary
cross-entropy on :math:`p_{in}`. Two normalisations are offered:

* ``"official"`` (default): :math:`c_P = c_N = N`, the flattened batch size, exactly as the
  authors' code computes it (``spec-acl-losses``). Anchors without positives still contribute
  their η-term. Under this normalisation the η-term is O(1/N) per anchor, which is why η has to
  be in the hundreds (the authors suggest up to 300).
* ``"paper"``: :math:`c_P = |P(i)|`, :math:`c_N = |N(i)|`, the per-set averages of the
  paper-level formulas (a reconstruction, ``spec-acl-losses``, tag [reconstructed]); an empty set contributes 0.

The book uses ``"official"`` to reproduce the authors' setting. Special cases: FCL is
:math:`\eta = 0`, ACL is :math:`\gamma = 0`, CL is :math:`\gamma = \eta = 0`.

Deliberate fixes of the authors' code (``spec-acl-losses``), each tested:

1. the anchor's self-similarity never enters the focal weight, so non-integer γ works (the
   official code computes :math:`(1 - p_{ii})^\gamma` with :math:`p_{ii} > 1`: NaN for non-integer γ);
2. log-softmax with log-sum-exp replaces the bare ``exp`` (no overflow), computed in float32 with
   autocast disabled (fp16/bf16 inputs are upcast);
3. :math:`1-p` is bounded below by the machine epsilon, so :math:`\log(1-p) \ge \log(\epsilon)` and a
   probability that rounds to 1 (e.g. a batch of two with different labels) gives a large finite
   value, not ``inf``;
4. no silent NaN-to-zero: invalid input raises ``ValueError``; valid input gives a finite loss.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from imbalanced_contrastive.losses._common import (
    check_choice,
    check_nonnegative,
    check_positive,
    contrast_log_prob,
    flatten_views,
    full_precision,
    label_masks,
    masked_row_sum,
    one_minus,
    set_size,
    zero_loss,
)

NORMALIZATIONS = ("official", "paper")


class AsymmetricFocalContrastiveLoss(nn.Module):
    r"""AFCL (Vito & Stefanus 2022); see the module docstring for the formula and normalisations.

    Paper: [0] An Asymmetric Contrastive Loss for Handling Imbalanced Datasets, Entropy 24(9):1303,
    2022, https://arxiv.org/abs/2207.07080

    Args:
        temperature: :math:`\tau > 0` (0.07 in the authors' code).
        gamma: focusing parameter :math:`\gamma \ge 0` (any real value, not only integers).
        eta: weight :math:`\eta \ge 0` of the negative term.
        normalization: ``"official"`` (÷N, the authors' code) or ``"paper"`` (÷|P(i)|, ÷|N(i)|).

    Raises:
        ValueError: an argument outside the ranges above, naming it.

    Examples:
        >>> loss = AsymmetricFocalContrastiveLoss(gamma=2.0, eta=100.0)
        >>> z = torch.nn.functional.normalize(torch.randn(6, 2, 8), dim=-1)
        >>> float(loss(z, torch.tensor([0, 0, 0, 1, 1, 2]))) > 0
        True
    """

    def __init__(
        self, temperature: float = 0.07, gamma: float = 0.0, eta: float = 0.0, normalization: str = "official"
    ) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.gamma = check_nonnegative("gamma", gamma)
        self.eta = check_nonnegative("eta", eta)
        self.normalization = check_choice("normalization", normalization, NORMALIZATIONS)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, gamma={self.gamma}, eta={self.eta}, normalization={self.normalization!r}"
        )

    def per_anchor(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-anchor losses :math:`\\ell_i`. Shape: ``[V*B]``."""
        z, y, _ = flatten_views(features, labels)
        n = z.shape[0]
        if n < 2:
            return zero_loss(z).expand(n)
        log_prob = contrast_log_prob(z, self.temperature)
        positives, negatives = label_masks(y, z.dtype)
        q = one_minus(log_prob.exp())  # 1 - p_ij, at least eps
        if self.gamma == 0.0:
            weighted = log_prob
        else:
            weighted = q.pow(self.gamma) * log_prob  # (1 - p)^γ log p
        pos_sum = masked_row_sum(weighted, positives)
        if self.eta == 0.0:
            neg_sum = torch.zeros_like(pos_sum)
        else:
            neg_sum = masked_row_sum(q.log(), negatives)
        if self.normalization == "official":
            c_pos = c_neg = torch.full_like(pos_sum, float(n))
        else:
            c_pos, c_neg = set_size(positives).clamp(min=1.0), set_size(negatives).clamp(min=1.0)
        return -pos_sum / c_pos - self.eta * neg_sum / c_neg

    @full_precision
    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss (with autocast disabled: in float32, or float64 for float64 features).

        Args:
            features: unit-norm embeddings. Shape: ``[B, V, D]`` or ``[B, D]``.
            labels: class labels. Shape: ``[B]``.

        Returns:
            A 0-dim tensor: the mean of the per-anchor losses over all ``V*B`` anchors.
        """
        return self.per_anchor(features, labels).mean()


class FocalContrastiveLoss(AsymmetricFocalContrastiveLoss):
    """FCL (Zhang et al. 2021, as used by the ACL paper): AFCL with ``eta = 0``."""

    def __init__(self, temperature: float = 0.07, gamma: float = 0.0, normalization: str = "official") -> None:
        super().__init__(temperature=temperature, gamma=gamma, eta=0.0, normalization=normalization)


class AsymmetricContrastiveLoss(AsymmetricFocalContrastiveLoss):
    """ACL (Vito & Stefanus 2022): AFCL with ``gamma = 0``."""

    def __init__(self, temperature: float = 0.07, eta: float = 0.0, normalization: str = "official") -> None:
        super().__init__(temperature=temperature, gamma=0.0, eta=eta, normalization=normalization)


class ContrastiveLoss(AsymmetricFocalContrastiveLoss):
    """CL as the ACL paper's baseline: AFCL with ``gamma = eta = 0``.

    With ``normalization="paper"`` it equals :class:`SupConLoss` on batches where every anchor
    has a positive; with ``"official"`` each anchor is weighted by ``|P(i)| / N`` instead.
    """

    def __init__(self, temperature: float = 0.07, normalization: str = "official") -> None:
        super().__init__(temperature=temperature, gamma=0.0, eta=0.0, normalization=normalization)
