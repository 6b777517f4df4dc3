"""The "dual class-imbalance" of supervised contrastive learning
(ResCom; ``book/paper_specs.md``, ``spec-rescom-dual``):
how many positive pairs and queue keys each class gets per batch, with and without the
class-balanced queue and effective-number weights. Pure numpy: no training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imbalanced_contrastive.losses.rescom import effective_number_weights


def pair_frequency_matrix(num_classes: int = 10, imbalance_factor: float = 10.0) -> np.ndarray:
    """``M[i, j] = r_i r_j`` with ``r_i = IF^(-i/(C-1))``: how often a (class i, class j) pair
    appears relative to the head-head pair (``spec-rescom-dual``, the motivation heat-map)."""
    if num_classes < 2 or imbalance_factor < 1:
        raise ValueError(f"need num_classes >= 2 and imbalance_factor >= 1; got {num_classes}, {imbalance_factor}")
    r = imbalance_factor ** (-np.arange(num_classes) / (num_classes - 1))
    return np.outer(r, r)


@dataclass
class PairCounts:
    """Per-class averages over simulated batches (arrays of shape ``[C]``)."""

    anchors: np.ndarray
    batch_positive_pairs: np.ndarray
    fifo_queue_keys: np.ndarray
    fifo_queue_empty: np.ndarray
    balanced_queue_positives: np.ndarray
    weighted_anchor_mass: np.ndarray
    weighted_queue_positive_mass: np.ndarray


def simulate_pair_counts(
    class_counts,
    batch_size: int = 128,
    n_batches: int = 2000,
    fifo_size: int = 1024,
    hard_positives: int = 1,
    beta: float = 0.999999,
    seed: int = 0,
) -> PairCounts:
    """Monte-Carlo pair counts of two-view SupCon batches drawn i.i.d. from ``class_counts``.

    Per class and batch: anchors ``2 n_c`` (two views), in-batch positive pairs
    ``2 n_c (2 n_c - 1)``, keys of a FIFO queue of ``fifo_size`` i.i.d. keys (and whether it has
    none), and with ResCom's class-balanced queue every anchor gets exactly ``hard_positives`` queue
    positives. The weighted masses multiply by the effective-number weights ``w_c``.
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2 or (counts < 1).any():
        raise ValueError("class_counts must list >= 2 classes with >= 1 sample each")
    if batch_size < 1 or n_batches < 1 or fifo_size < 1:
        raise ValueError("batch_size, n_batches and fifo_size must be >= 1")
    rng = np.random.default_rng(seed)
    prior = counts / counts.sum()
    n = rng.multinomial(batch_size, prior, size=n_batches).astype(np.float64)  # [batches, C]
    keys = rng.multinomial(fifo_size, prior, size=n_batches).astype(np.float64)
    w = effective_number_weights(counts, beta).numpy()
    anchors = 2 * n
    return PairCounts(
        anchors=anchors.mean(0),
        batch_positive_pairs=(anchors * (anchors - 1)).mean(0),
        fifo_queue_keys=keys.mean(0),
        fifo_queue_empty=(keys == 0).mean(0),
        balanced_queue_positives=(anchors * hard_positives).mean(0),
        weighted_anchor_mass=(anchors * w).mean(0),
        weighted_queue_positive_mass=(anchors * hard_positives * w).mean(0),
    )
