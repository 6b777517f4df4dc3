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
import numbers

import numpy as np
import torch


def as_number(name: str, value) -> float:
    """``value`` as a float if it is a real number: Python, numpy or a one-element torch tensor.

    Raises:
        ValueError: ``value`` is a bool, ``None``, a string, a sequence or a tensor of several
            elements (the message names ``name``).
    """
    if torch.is_tensor(value):
        if value.numel() != 1 or value.dtype == torch.bool or value.is_complex():
            raise ValueError(f"{name} must be a real number; got a tensor of shape {tuple(value.shape)} ({value.dtype})")
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    return float(value)


def check_positive(name: str, value) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise ``ValueError`` naming ``name``."""
    number = as_number(name, value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return number


def check_nonnegative(name: str, value) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise ``ValueError`` naming ``name``."""
    number = as_number(name, value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return number


def check_count(name: str, value, low: int = 0) -> int:
    """Return ``value`` as an int if it is a whole number >= ``low``, else raise ``ValueError`` naming ``name``."""
    number = as_number(name, value)
    if not number.is_integer() or number < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(number)


def check_flag(name: str, value) -> bool:
    """Return ``value`` if it is a bool (Python or numpy), else raise ``ValueError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


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


def check_labels(labels: torch.Tensor, num_classes: int) -> None:
    """Reject labels outside ``[0, num_classes)`` (checked on the CPU only: no host
    synchronisation on an accelerator), so that no label is mapped to another class by indexing."""
    if torch.is_tensor(labels) and labels.numel() and labels.device.type == "cpu":
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes - 1}]; got values in [{low}, {high}]")


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
"""Subtracted (plus the largest logit magnitude) from the anchors' own logits: ``exp`` of the
result is exactly 0 next to any other logit, yet it stays finite."""


def self_logit_offset(logits: torch.Tensor) -> torch.Tensor:
    """What to subtract from the anchors' own logits so that they weigh exactly 0 in a softmax,
    whatever the scale of the features: :data:`SELF_LOGIT_OFFSET` + ``max |logit|`` (a 0-dim
    tensor on the logits' device; no host synchronisation)."""
    return logits.detach().abs().amax() + SELF_LOGIT_OFFSET


def contrast_log_prob(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log p_ij = s_ij - logsumexp_{a != i} s_ia`` with ``s_ij = z_i . z_j / temperature``.

    The log-softmax runs over the contrast set ``A(i) = {j != i}``: the anchor's own logit is
    lowered by :func:`self_logit_offset`, so it adds exactly 0 to the denominator while every
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
    logits.diagonal().sub_(self_logit_offset(logits))
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
    """Training-set class counts as a float64 tensor ``[C]``; every count must be >= 1, ``C >= 2``.

    Raises:
        ValueError: ``None``, not a 1-D sequence of numbers, fewer than 2 classes, or a count < 1.
    """
    if class_counts is None or isinstance(class_counts, (str, bytes)):
        raise ValueError(f"class_counts must be a 1-D sequence of per-class training counts; got {class_counts!r}")
    try:
        counts = torch.as_tensor(class_counts, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"class_counts must be a 1-D sequence of per-class training counts; got {class_counts!r}") from err
    if counts.dim() != 1:
        raise ValueError(f"class_counts must be 1-D (one count per class); got shape {tuple(counts.shape)}")
    if counts.numel() < 2:
        raise ValueError(f"class_counts must list at least 2 classes; got {counts.numel()}")
    if not torch.isfinite(counts).all() or (counts < 1).any():
        raise ValueError("class_counts must be finite counts >= 1 (every class needs a training sample)")
    return counts
