"""Helpers shared by every contrastive loss: input checks, view flattening, masks, stable logs.

All contrastive losses in this package follow one convention:

* features are unit-norm, shape ``[B, V, D]`` (``V`` views) or ``[B, D]`` (one view);
* views are flattened *view-major* (all view-0 rows, then all view-1 rows, ...) into ``N = V*B``
  rows and the labels are repeated; every row is an anchor;
* an anchor is never in its own contrast set ``A(i) = {j != i}``;
* half-precision inputs (fp16/bf16) are upcast to float32, float64 stays float64, so the loss is
  computed in full precision even under autocast.
"""

from __future__ import annotations

import math

import torch


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number > 0, else raise ``ValueError`` naming ``name``."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number >= 0, else raise ``ValueError`` naming ``name``."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other floating type is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_finite(x: torch.Tensor, name: str) -> None:
    """Reject NaN/inf: a ``ValueError`` on the CPU; on an accelerator an asynchronous device
    assertion (no host synchronisation in the training loop; it fails at the next sync)."""
    if x.device.type == "cpu":
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contain NaN or infinite values")
    else:
        torch._assert_async(torch.isfinite(x).all(), f"{name} contain NaN or infinite values")


def flatten_views(features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Validate and flatten multi-view features view-major.

    Args:
        features: unit-norm embeddings. Shape: ``[B, V, D]`` or ``[B, D]``.
        labels: integer class labels. Shape: ``[B]``.

    Returns:
        ``(z, y, n_views)``: ``z`` of shape ``[V*B, D]`` (float32, or float64 for float64 input)
        with row ``v*B + b`` = ``features[b, v]``, ``y`` of shape ``[V*B]``, and ``V``.

    Raises:
        ValueError: wrong ranks, non-floating features, non-integer labels, length mismatch,
            an empty batch or non-finite features.
    """
    if not torch.is_tensor(features) or not features.is_floating_point():
        raise ValueError("features must be a floating-point tensor of shape [B, V, D] or [B, D]")
    if features.dim() == 2:
        features = features.unsqueeze(1)
    if features.dim() != 3:
        raise ValueError(f"features must have shape [B, V, D] or [B, D]; got {tuple(features.shape)}")
    if not torch.is_tensor(labels) or labels.dim() != 1:
        raise ValueError(f"labels must be a 1-D integer tensor of shape [B]; got {getattr(labels, 'shape', labels)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor; got dtype {labels.dtype}")
    b, v, _ = features.shape
    if labels.shape[0] != b:
        raise ValueError(f"labels has {labels.shape[0]} entries but features has batch size {b}")
    if b == 0 or v == 0:
        raise ValueError(f"features must hold at least one sample and one view; got {tuple(features.shape)}")
    z = features.to(compute_dtype(features.dtype)).transpose(0, 1).reshape(v * b, -1)
    check_finite(z, "features")
    return z, labels.to(z.device).repeat(v), v


def label_masks(y: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positive and negative masks of the flattened batch, as 0/1 matrices of ``dtype``.

    Returns:
        ``(positives, negatives, n_pos, n_neg)``: ``[N, N]`` masks of ``P(i)`` (same label,
        ``j != i``) and ``N(i)`` (different label), and the set sizes ``|P(i)|``, ``|N(i)|``
        (``[N]``, in ``dtype``).
    """
    positives = (y.unsqueeze(0) == y.unsqueeze(1)).to(dtype)
    negatives = 1.0 - positives
    positives.diagonal().fill_(0.0)
    return positives, negatives, positives.sum(dim=1), negatives.sum(dim=1)


def masked_row_sum(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum_j mask_ij * values_ij`` per row; ``values`` must be finite (0 x finite = 0)."""
    return (values * mask).sum(dim=1)


SELF_LOGIT_OFFSET = 1e9
"""Subtracted from the diagonal logits: ``exp`` of it is exactly 0, yet it stays finite."""


def contrast_log_prob(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log p_ij = s_ij - logsumexp_{a != i} s_ia`` with ``s_ij = z_i . z_j / temperature``.

    The log-softmax runs over the contrast set ``A(i) = {j != i}``: the anchor's own logit is
    lowered by :data:`SELF_LOGIT_OFFSET`, so it adds exactly 0 to the denominator while every
    entry stays finite (no ``-inf`` reaches a product, so no NaN gradient). The diagonal of the
    result is a large negative placeholder: callers exclude it with the masks of
    :func:`label_masks`, whose diagonals are 0. Requires ``N >= 2``.

    Args:
        z: flattened embeddings. Shape: ``[N, D]``.
        temperature: ``tau > 0``.

    Returns:
        Log-probabilities. Shape: ``[N, N]``.
    """
    logits = (z / temperature) @ z.T
    logits.diagonal().sub_(SELF_LOGIT_OFFSET)
    return logits - torch.logsumexp(logits, dim=1, keepdim=True)


def one_minus(p: torch.Tensor) -> torch.Tensor:
    """``1 - p`` for probabilities ``p``, bounded below by the dtype's machine epsilon.

    Its logarithm is then at least ``log(eps)`` (about -15.9 in float32, -36.0 in float64): a
    probability that rounds to 1 (e.g. the only element of a contrast set) gives a large finite
    value instead of ``-inf``, and a finite gradient.
    """
    return (1.0 - p).clamp(min=torch.finfo(p.dtype).eps)


def zero_loss(z: torch.Tensor) -> torch.Tensor:
    """A zero scalar connected to the graph of ``z`` (``backward()`` works and gives zero gradients)."""
    return z.sum() * 0.0


def check_class_counts(class_counts) -> torch.Tensor:
    """Training-set class counts as a float64 tensor ``[C]``; every count must be >= 1, ``C >= 2``."""
    counts = torch.as_tensor(class_counts, dtype=torch.float64).flatten()
    if counts.numel() < 2:
        raise ValueError(f"class_counts must list at least 2 classes; got {counts.numel()}")
    if not torch.isfinite(counts).all() or (counts < 1).any():
        raise ValueError("class_counts must be finite counts >= 1 (every class needs a training sample)")
    return counts
