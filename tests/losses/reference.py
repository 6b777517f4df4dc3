"""Slow loop-based references written straight from the equations (``book/paper_specs.md``: spec-acl-losses,
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
        s = {j: sum(a * b for a, b in zip(rows[i], rows[j], strict=True)) / tau for j in range(n) if j != i}
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
    for row, t in zip(logits.double().tolist(), targets.tolist(), strict=True):
        m = max(row)
        logp = row[t] - m - math.log(sum(math.exp(v - m) for v in row))
        pt = math.exp(logp)
        w = 1.0 if alpha is None else alpha[t]
        total += -w * (1 - pt) ** gamma * logp
    return total / len(targets)


def bcl(features, labels, prototypes, tau, class_averaging=True, scale=1.0, offset=None, margin=None):
    """spec-bcl-losses and spec-rcl-reconstruction (book/paper_specs.md), written as loops: the (generalised)
    BCL per-anchor mean."""
    rows, y = flatten(features, labels)
    contrast = [(r, c) for r, c in zip(rows, y, strict=True)]
    if prototypes is not None:
        contrast += [([float(x) for x in p.double()], j) for j, p in enumerate(prototypes)]
    losses = []
    for i, (zi, yi) in enumerate(zip(rows, y, strict=True)):
        others = [(k, a, c) for k, (a, c) in enumerate(contrast) if k != i]

        def logit(a, c, zi=zi, yi=yi):
            value = scale * sum(u * v for u, v in zip(zi, a, strict=True))
            if margin is not None and c == yi:
                value -= margin[yi]
            value /= tau
            if offset is not None:
                value += offset[c]
            return value

        positives = [(a, c) for _, a, c in others if c == yi]
        if not positives:
            continue
        denom = 0.0
        for _, a, c in others:
            omega = sum(1 for _, _, c2 in others if c2 == c) if class_averaging else 1
            denom += math.exp(logit(a, c)) / omega
        losses.append(-sum(logit(a, c) - math.log(denom) for a, c in positives) / len(positives))
    return sum(losses) / len(losses) if losses else 0.0


def cbsc(features, labels, tau, weights, keys=None, key_labels=None, qp=1, qn=1):
    """spec-rescom-losses (book/paper_specs.md) as loops: class-weighted SupCon over batch + mined queue keys."""
    rows, y = flatten(features, labels)
    n = len(rows)
    total = 0.0
    for a in range(n):

        def dot(v, anchor=rows[a]):
            return sum(u * w for u, w in zip(anchor, v, strict=True))

        batch = [(dot(rows[j]) / tau, y[j] == y[a]) for j in range(n) if j != a]
        queue = []
        if keys is not None:
            own = sorted(dot(k) for k, c in zip(keys, key_labels, strict=True) if c == y[a])[:qp]
            other = sorted((dot(k) for k, c in zip(keys, key_labels, strict=True) if c != y[a]), reverse=True)[:qn]
            queue = [(s / tau, True) for s in own] + [(s / tau, False) for s in other]
        entries = batch + queue
        m = max(v for v, _ in entries)
        log_denom = m + math.log(sum(math.exp(v - m) for v, _ in entries))
        pos = [v for v, is_pos in entries if is_pos]
        loss = -sum(v - log_denom for v in pos) / len(pos) if pos else 0.0
        total += weights[y[a]] * loss
    return total / n
