r"""ResCom (Zhong et al., arXiv 2203.11506): class-balanced SupCon with a class-balanced queue and
supervised hard positive/negative mining (``book/paper_specs.md``, ``spec-rescom-losses``; exact from the
authors' code).

For the ``2B`` anchors (both views, flattened view-major), anchor :math:`a` contrasts against all
other batch samples :math:`A_b(a)` plus, when a queue is given, its :math:`Q_p` *hardest*
same-class keys (smallest similarity) and :math:`Q_n` hardest other-class keys (largest
similarity):

.. math::

    L_a = -\frac{1}{|P(a)|}\sum_{p\in P(a)}\Big[\ell_{a,p} - \log\sum_{j\in S(a)} e^{\ell_{a,j}}\Big],
    \qquad \mathcal{L}_{CBSC} = \frac{1}{2B}\sum_a w_{y_a} L_a,

with :math:`\ell_{a,j} = z_a\cdot v_j/\tau`, :math:`P(a)` the batch positives plus the mined queue
positives, and effective-number class weights (Cui et al., CVPR 2019)
:math:`w_c = \bar E / E_c`, :math:`E_c = (1-\beta^{n_c})/(1-\beta)`. With :math:`\beta = 0` and no
queue it is SupCon on the two views.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from imbalanced_contrastive.losses._common import (
    as_number,
    check_class_counts,
    check_count,
    check_finite,
    check_labels,
    check_positive,
    exclude_self,
    flatten_views,
    full_precision,
    masked_row_sum,
    set_size,
)


def effective_number_weights(class_counts, beta: float) -> torch.Tensor:
    r"""Class weights :math:`w_c = \bar E/E_c` with :math:`E_c = (1-\beta^{n_c})/(1-\beta)`.

    Args:
        class_counts: training samples per class, ``[C]``.
        beta: :math:`\beta \in [0, 1)`; 0 gives all-ones weights, :math:`\beta \to 1` inverse frequency.

    Returns:
        ``float64 [C]`` weights, ``w_c = mean(E) / E_c``.
    """
    counts = check_class_counts(class_counts)
    beta = as_number("beta", beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1); got {beta}")
    if beta == 0.0:
        return torch.ones_like(counts)
    effective = -torch.expm1(counts * math.log1p(float(beta) - 1.0)) / (1.0 - float(beta))
    return effective.mean() / effective


def _all_gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every rank (rank order); ``x`` itself on a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class ClassBalancedQueue(nn.Module):
    """A per-class ring buffer of ``per_class`` keys for each of ``num_classes`` classes (ResCom).

    Slots ``[c*Q, (c+1)*Q)`` belong to class ``c``; keys start as random unit vectors (as in the
    authors' code: unfilled slots are not masked). :meth:`push` writes detached embeddings,
    gathered from every rank under ``torch.distributed``, so every rank holds the same queue.
    The buffers move with ``.to(device)`` and are saved in ``state_dict`` checkpoints.

    Args:
        num_classes: ``C >= 2``.
        per_class: ``Q >= 1`` keys per class.
        dim: embedding dimension.
        seed: seed of the random initial keys.
    """

    def __init__(self, num_classes: int, per_class: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        for name, value, low in (("num_classes", num_classes, 2), ("per_class", per_class, 1), ("dim", dim, 1)):
            if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        num_classes, per_class, dim = int(num_classes), int(per_class), int(dim)
        seed = check_count("seed", seed)
        self.num_classes, self.per_class, self.dim = num_classes, per_class, dim
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("buffer", F.normalize(torch.randn(num_classes * per_class, dim, generator=g), dim=1))
        self.register_buffer("pointer", torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer("written", torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer("slot_labels", torch.arange(num_classes).repeat_interleave(per_class))

    def keys(self) -> torch.Tensor:
        """A detached snapshot of the keys, each class block oldest first. Shape: ``[C*Q, dim]``."""
        q = self.per_class
        order = (self.pointer.unsqueeze(1) + torch.arange(q, device=self.pointer.device)) % q
        index = (torch.arange(self.num_classes, device=order.device).unsqueeze(1) * q + order).flatten()
        return self.buffer[index].detach().clone()

    def labels(self) -> torch.Tensor:
        """Class of each key of :meth:`keys`. Shape: ``[C*Q]``."""
        return self.slot_labels.clone()

    @torch.no_grad()
    def push(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Enqueue ``features`` (``[n, dim]``) with ``labels`` (``[n]``) into their class rings.

        Items are written in order (after gathering from all ranks, in rank order); when a class
        receives more than ``Q`` items at once, the later ones overwrite the earlier ones, as a
        sequential ring buffer would. No shape depends on the labels, so a push never
        synchronises an accelerator with the host (the label range is checked on the CPU only).
        """
        if not torch.is_tensor(features) or not features.is_floating_point():
            raise ValueError(
                f"push expects features as a floating tensor [n, {self.dim}]; got {type(features).__name__}"
            )
        if not torch.is_tensor(labels) or labels.is_floating_point() or labels.dtype == torch.bool:
            got = labels.dtype if torch.is_tensor(labels) else type(labels).__name__
            raise ValueError(f"push expects labels as a 1-D integer tensor [n]; got {got}")
        if features.dim() != 2 or features.shape[1] != self.dim or labels.shape != features.shape[:1]:
            raise ValueError(
                f"push expects features [n, {self.dim}] and labels [n]; "
                f"got {tuple(features.shape)}, {tuple(labels.shape)}"
            )
        check_finite(features.detach(), "queue features")
        check_labels(labels, self.num_classes)
        feats = _all_gather(features.detach().to(self.buffer.dtype))
        labs = _all_gather(labels.to(self.pointer.device).long())
        n = labs.numel()
        if n == 0:
            return
        q, device = self.per_class, labs.device
        position = torch.arange(n, device=device)
        same = labs.unsqueeze(0) == labs.unsqueeze(1)  # [n, n]
        rank = (same & (position.unsqueeze(0) < position.unsqueeze(1))).sum(dim=1)  # earlier items of its class
        counts = (labs.unsqueeze(1) == torch.arange(self.num_classes, device=device)).sum(dim=0)  # [C]
        slot = labs * q + (self.pointer[labs] + rank) % q
        # the last item written to a slot wins (the one with the largest position)
        hits = slot.unsqueeze(1) == torch.arange(self.num_classes * q, device=device)  # [n, C*Q]
        winner = torch.where(hits, position.unsqueeze(1), -1).amax(dim=0)  # [C*Q]
        written = (winner >= 0).unsqueeze(1)
        self.buffer.copy_(torch.where(written, feats[winner.clamp(min=0)], self.buffer))
        self.pointer.copy_((self.pointer + counts) % q)
        self.written.add_(counts)


class ClassBalancedSupConLoss(nn.Module):
    r"""ResCom's class-balanced supervised contrastive loss :math:`\mathcal{L}_{CBSC}`.

    Paper: [0] Rebalanced Siamese Contrastive Mining for Long-Tailed Recognition,
    https://arxiv.org/abs/2203.11506

    Args:
        class_counts: training samples per class, ``[C]``.
        temperature: :math:`\tau > 0` (0.2 in the CIFAR-100-LT config).
        beta: effective-number :math:`\beta \in [0, 1)` (0.999999 on CIFAR-100-LT).
        hard_positives: :math:`Q_p \ge 1` queue positives mined per anchor.
        hard_negatives: :math:`Q_n \ge 1` queue negatives mined per anchor.
    """

    def __init__(
        self,
        class_counts,
        temperature: float = 0.2,
        beta: float = 0.999999,
        hard_positives: int = 1,
        hard_negatives: int = 400,
    ) -> None:
        super().__init__()
        self.temperature = check_positive("temperature", temperature)
        self.hard_positives = check_count("hard_positives", hard_positives, 1)
        self.hard_negatives = check_count("hard_negatives", hard_negatives, 1)
        self.register_buffer("class_weights", effective_number_weights(class_counts, beta))
        self.beta = as_number("beta", beta)

    @property
    def num_classes(self) -> int:
        return int(self.class_weights.numel())

    def mine(self, z: torch.Tensor, y: torch.Tensor, queue: ClassBalancedQueue) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard queue similarities per anchor: ``(positives [N, Q_p], negatives [N, Q_n])``.

        Positives are the ``Q_p`` smallest similarities among the anchor's class block,
        negatives the ``Q_n`` largest among all other classes' keys. Keys carry no gradient.
        """
        if queue.num_classes != self.num_classes or queue.dim != z.shape[1]:
            raise ValueError(
                f"queue has {queue.num_classes} classes of dim {queue.dim}; the loss expects "
                f"{self.num_classes} classes and features have dim {z.shape[1]}"
            )
        q = queue.per_class
        if self.hard_positives > q or self.hard_negatives > (self.num_classes - 1) * q:
            raise ValueError(
                f"hard_positives <= per_class ({q}) and hard_negatives <= (C-1)*per_class "
                f"({(self.num_classes - 1) * q}) are required; got {self.hard_positives}, {self.hard_negatives}"
            )
        keys = queue.keys().to(z.dtype)  # snapshot taken before any push: no in-place conflict
        sims = (z @ keys.T).view(z.shape[0], self.num_classes, q)
        own = sims.gather(1, y.view(-1, 1, 1).expand(-1, 1, q)).squeeze(1)
        hard_pos = own.topk(self.hard_positives, dim=1, largest=False).values
        own_class = y.unsqueeze(1) == torch.arange(self.num_classes, device=y.device)  # [N, C]
        other = sims.masked_fill(own_class.unsqueeze(2), torch.finfo(sims.dtype).min)
        hard_neg = other.flatten(1).topk(self.hard_negatives, dim=1).values
        return hard_pos, hard_neg

    def per_anchor(
        self, features: torch.Tensor, labels: torch.Tensor, queue: ClassBalancedQueue | None = None
    ) -> torch.Tensor:
        """Unweighted per-anchor losses :math:`L_a`. Shape: ``[V*B]``.

        Raises:
            TypeError: ``queue`` is neither ``None`` nor a :class:`ClassBalancedQueue` (a tensor of
                keys is not a queue: make one with ``ClassBalancedQueue(num_classes, per_class, dim)``).
        """
        if queue is not None and not isinstance(queue, ClassBalancedQueue):
            raise TypeError(
                f"queue must be a ClassBalancedQueue or None; got {type(queue).__name__} (a tensor of keys is not a "
                "queue: make one with ClassBalancedQueue(num_classes, per_class, dim) and push keys into it)"
            )
        z, y, _ = flatten_views(features, labels)
        check_labels(y, self.num_classes)
        batch_logits = exclude_self((z / self.temperature) @ z.T)
        positives = (y.unsqueeze(0) == y.unsqueeze(1)).to(z.dtype)
        positives.diagonal().fill_(0.0)
        logits, targets = [batch_logits], [positives]
        if queue is not None:
            hard_pos, hard_neg = self.mine(z, y, queue)
            logits += [hard_pos / self.temperature, hard_neg / self.temperature]
            targets += [torch.ones_like(hard_pos), torch.zeros_like(hard_neg)]
        logits_all, target = torch.cat(logits, dim=1), torch.cat(targets, dim=1)
        log_prob = logits_all - torch.logsumexp(logits_all, dim=1, keepdim=True)
        n_pos = set_size(target)
        loss = -masked_row_sum(log_prob, target) / n_pos.clamp(min=1.0)
        return loss

    @full_precision
    def forward(
        self, features: torch.Tensor, labels: torch.Tensor, queue: ClassBalancedQueue | None = None
    ) -> torch.Tensor:
        """Compute :math:`\\mathcal{L}_{CBSC}` (with autocast disabled: in float32, or float64 for float64 features).

        Args:
            features: unit-norm embeddings of both views. Shape: ``[B, 2, D]`` (any ``V`` works).
            labels: class labels in ``[0, C)``. Shape: ``[B]``.
            queue: the class-balanced queue, or ``None`` for the batch-only loss. Push the new
                keys *after* this call (``queue.push(features[:, 0].detach(), labels)``).

        Returns:
            A 0-dim tensor: :math:`\\frac{1}{2B}\\sum_a w_{y_a} L_a` (anchors without a positive
            contribute 0).
        """
        loss = self.per_anchor(features, labels, queue)  # validates the inputs first
        z_labels = labels.to(features.device).repeat(features.shape[1] if features.dim() == 3 else 1)
        return (loss * self.class_weights.to(loss.dtype)[z_labels]).mean()
