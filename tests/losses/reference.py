"""Slow loop-based references written straight from the equations (acl.md sections 2.1-2.3,
Khosla et al. Eq. 2), in Python floats (float64). Deliberately naive: no masks, no vectorisation."""

from __future__ import annotations

import math

import torch


def flatten(features: torch.Tensor, labels: torch.Tensor) -> tuple[list[list[float]], list[int]]:
    if features.dim() == 2:
        features = features.unsqueeze(1)
    b, v, _ = features.shape
    rows, ys = [], []
    for view in range(v):  # view-major
        for i in range(b):
            rows.append([float(x) for x in features[i, view].double()])
            ys.append(int(labels[i]))
    return rows, ys


def probabilities(rows: list[list[float]], tau: float) -> list[dict[int, float]]:
    """p[i][j] = exp(s_ij) / sum_{a != i} exp(s_ia)."""
    n = len(rows)
    out = []
    for i in range(n):
        s = {j: sum(a * b for a, b in zip(rows[i], rows[j])) / tau for j in range(n) if j != i}
        m = max(s.values())
        denom = sum(math.exp(v - m) for v in s.values())
        out.append({j: math.exp(v - m) / denom for j, v in s.items()})
    return out


def afcl(features, labels, tau, gamma, eta, normalization):
    rows, y = flatten(features, labels)
    n = len(rows)
    if n < 2:
        return 0.0
    p = probabilities(rows, tau)
    total = 0.0
    for i in range(n):
        positives = [j for j in range(n) if j != i and y[j] == y[i]]
        negatives = [j for j in range(n) if y[j] != y[i]]
        pos = sum((1 - p[i][j]) ** gamma * math.log(p[i][j]) for j in positives)
        neg = sum(math.log1p(-p[i][j]) for j in negatives)
        if normalization == "official":
            total += -pos / n - eta * neg / n
        else:
            total += (-pos / len(positives) if positives else 0.0) + (-eta * neg / len(negatives) if negatives else 0.0)
    return total / n


def supcon(features, labels, tau, base_tau):
    rows, y = flatten(features, labels)
    n = len(rows)
    p = probabilities(rows, tau) if n > 1 else []
    losses = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and y[j] == y[i]]
        if positives:
            losses.append(-(tau / base_tau) * sum(math.log(p[i][j]) for j in positives) / len(positives))
    return sum(losses) / len(losses) if losses else 0.0


def focal(logits, targets, gamma, alpha=None):
    total = 0.0
    for row, t in zip(logits.double().tolist(), targets.tolist()):
        m = max(row)
        logp = row[t] - m - math.log(sum(math.exp(v - m) for v in row))
        pt = math.exp(logp)
        w = 1.0 if alpha is None else alpha[t]
        total += -w * (1 - pt) ** gamma * logp
    return total / len(targets)
