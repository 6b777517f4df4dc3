"""Heads on top of an encoder: the L2-normalised projection head and a linear classifier."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ProjectionHead(nn.Module):
    """Linear -> ReLU -> Linear, then L2 normalisation (SupCon, ACL ``rep_heads``, BCL).

    Args:
        in_dim: encoder feature size.
        out_dim: embedding size (128 in the ACL and BCL code).
        hidden_dim: hidden size; defaults to ``in_dim`` as in the ACL code.
        batch_norm: insert BatchNorm1d after the first layer (BCL's head).
    """

    def __init__(
        self, in_dim: int, out_dim: int = 128, hidden_dim: int | None = None, batch_norm: bool = False
    ) -> None:
        super().__init__()
        if in_dim < 1 or out_dim < 1:
            raise ValueError(f"in_dim and out_dim must be >= 1; got {in_dim}, {out_dim}")
        hidden = hidden_dim or in_dim
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden)]
        if batch_norm:  # BCL's CIFAR head: Linear -> BN -> ReLU -> Linear
            layers.append(nn.BatchNorm1d(hidden))
        layers += [nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)]
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, in_dim]`` -> unit-norm ``[B, out_dim]``."""
        return F.normalize(self.net(h), dim=-1)


class LinearClassifier(nn.Module):
    """A single linear layer from features to class logits (``[B, D]`` -> ``[B, C]``)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2; got {num_classes}")
        self.fc = nn.Linear(in_dim, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(h)
