"""Helpers shared by every contrastive loss: input checks, view flattening, masks, stable logs.

All contrastive losses in this package follow one convention:

* features are unit-norm, shape ``[B, V, D]`` (``V`` views) or ``[B, D]`` (one view);
* views are flattened *view-major* (all view-0 rows, then all view-1 rows, ...) into ``N = V*B``
  rows and the labels are repeated; every row is an anchor;
* an anchor is never in its own contrast set ``A(i) = {j != i}``;
* every loss runs in full precision: half-precision inputs (fp16/bf16) are upcast to float32
  (float64 stays float64) and each ``forward`` runs with autocast disabled (:func:`full_precision`),
  so no similarity matmul is cast back to fp16/bf16 inside a mixed-precision training step;
* excluded entries (an anchor's own logit) hold the dtype's most negative *finite* value, never
  ``-inf``, so no infinity is ever multiplied by a mask's 0 (which would make NaN);
* nothing on the training path synchronises an accelerator with the host: value checks (labels
  in range, finite features) run on the CPU only, and no shape depends on the data.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from typing import TypeVar

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
            raise ValueError(
                f"{name} must be a real number; got a tensor of shape {tuple(value.shape)} ({value.dtype})"
            )
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


def on_host(x: torch.Tensor) -> bool:
    """Whether checks may read ``x``'s values: only on the CPU, where reading them costs no
    synchronisation with an accelerator."""
    return x.device.type == "cpu"


def check_finite(x: torch.Tensor, name: str) -> None:
    """Reject NaN/inf with a ``ValueError`` naming ``name``, on the CPU.

    On an accelerator nothing is checked here: reading the values would synchronise the host
    with the device at every step, and a device-side assertion would kill the CUDA context. The
    training loop tracks the loss's finiteness on the device instead and raises
    ``FloatingPointError`` at the end of the epoch (:func:`~imbalanced_contrastive.training.loop.fit`).
    """
    if on_host(x) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contain NaN or infinite values")


def check_labels(labels: torch.Tensor, num_classes: int, name: str = "labels") -> None:
    """Reject labels outside ``[0, num_classes)`` (checked on the CPU only: no host
    synchronisation on an accelerator), so that no label is mapped to another class by indexing."""
    if torch.is_tensor(labels) and labels.numel() and on_host(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"{name} must lie in [0, {num_classes - 1}]; got values in [{low}, {high}]")


Forward = TypeVar("Forward", bound=Callable)

AUTOCAST_DEVICES = ("cpu", "cuda", "xpu", "mps")


def full_precision(forward: Forward) -> Forward:
    """Decorate a loss's ``forward`` so that it runs with autocast disabled on its inputs' device.

    Under CUDA (or CPU) autocast a matmul of float32 tensors is cast back to fp16/bf16; inside a
    loss that would compute the similarity logits with a 10-bit (fp16) or 7-bit (bf16) mantissa
    (and, in fp16, overflow). With this decorator every operation of the loss runs in the dtype of
    its upcast inputs: float32, or float64 for float64 inputs.
    """

    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        device_type = next((a.device.type for a in (*args, *kwargs.values()) if torch.is_tensor(a)), "cpu")
        if device_type in AUTOCAST_DEVICES and torch.is_autocast_enabled(device_type):
            with torch.autocast(device_type, enabled=False):
                return forward(self, *args, **kwargs)
        return forward(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


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
    b, v, d = features.shape
    if d == 0:
        raise ValueError(f"features must have at least one dimension per embedding; got shape {tuple(features.shape)}")
    if labels.shape[0] != b:
        raise ValueError(f"labels has {labels.shape[0]} entries but features has batch size {b}")
    if b == 0 or v == 0:
        raise ValueError(f"features must hold at least one sample and one view; got {tuple(features.shape)}")
    z = features.to(compute_dtype(features.dtype)).transpose(0, 1).reshape(v * b, -1)
    check_finite(z, "features")
    return z, labels.to(z.device).repeat(v), v


def label_masks(y: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive and negative masks of the flattened batch, as 0/1 matrices of ``dtype``.

    Returns:
        ``(positives, negatives)``: ``[N, N]`` masks of ``P(i)`` (same label, ``j != i``) and
        ``N(i)`` (different label); their row sums (:func:`set_size`) are ``|P(i)|`` and ``|N(i)|``.
        (0/1 floating masks, not booleans: on the CPU, converting, summing and selecting with a
        boolean N x N matrix is several times slower than multiplying by a floating one.)
    """
    positives = (y.unsqueeze(0) == y.unsqueeze(1)).to(dtype)
    negatives = 1.0 - positives
    positives.diagonal().fill_(0.0)
    return positives, negatives


def set_size(mask: torch.Tensor) -> torch.Tensor:
    """Row sums of a 0/1 mask (``|P(i)|``, ``|N(i)|``). Shape: ``[N]``."""
    return mask.sum(dim=1)


def masked_row_sum(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum_j mask_ij * values_ij`` per row, for a 0/1 ``mask``.

    ``values`` must be finite, which every caller guarantees: an excluded entry (the anchor's own
    logit) holds the dtype's lowest *finite* value (:func:`exclude_self`), never an infinity, so a
    mask's 0 times it is exactly 0 and its gradient exactly 0 (0 x inf, which would be NaN, never
    occurs).
    """
    return (values * mask).sum(dim=1)


def mean_where(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` is set; a graph-connected 0 when none is.

    No data-dependent shape: ``values[mask]`` would synchronise an accelerator with the host.
    """
    total = torch.where(mask, values, values.new_zeros(())).sum()
    return total / mask.sum().clamp(min=1).to(values.dtype)


def exclude_self(logits: torch.Tensor) -> torch.Tensor:
    """Take every anchor's own logit (the diagonal of ``logits[:, :N]``) out of its softmax, in place.

    The diagonal is set to the dtype's most negative finite value: its exponential is exactly 0
    next to any other logit whatever the scale of the features, every entry stays finite (no
    ``-inf`` reaches a product, so no NaN gradient), and it costs O(N) rather than a pass over the
    N x N matrix. Returns ``logits``.
    """
    n = min(logits.shape[0], logits.shape[1])
    logits[:, :n].diagonal().fill_(torch.finfo(logits.dtype).min)
    return logits


def contrast_log_prob(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log p_ij = s_ij - logsumexp_{a != i} s_ia`` with ``s_ij = z_i . z_j / temperature``.

    The log-softmax runs over the contrast set ``A(i) = {j != i}``: the anchor's own logit is
    removed by :func:`exclude_self`, so it adds exactly 0 to the denominator while every entry
    stays finite. The diagonal of the result is a huge negative placeholder: callers exclude it
    with the masks of :func:`label_masks`, whose diagonals are unset. Requires ``N >= 2``.

    Args:
        z: flattened embeddings. Shape: ``[N, D]``.
        temperature: ``tau > 0``.

    Returns:
        Log-probabilities. Shape: ``[N, N]``.
    """
    logits = exclude_self((z / temperature) @ z.T)
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
        raise ValueError(
            f"class_counts must be a 1-D sequence of per-class training counts; got {class_counts!r}"
        ) from err
    if counts.dim() != 1:
        raise ValueError(f"class_counts must be 1-D (one count per class); got shape {tuple(counts.shape)}")
    if counts.numel() < 2:
        raise ValueError(f"class_counts must list at least 2 classes; got {counts.numel()}")
    if not torch.isfinite(counts).all() or (counts < 1).any():
        raise ValueError("class_counts must be finite counts >= 1 (every class needs a training sample)")
    return counts
