"""Tasks trained by :func:`imbalanced_contrastive.training.loop.fit`."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from imbalanced_contrastive.models.heads import LinearClassifier


class SupervisedTask(nn.Module):
    """Encoder + linear classifier trained end to end with a classification loss (the baseline).

    Args:
        encoder: maps ``[B, C, H, W]`` to ``[B, D]`` and has ``feature_dim``.
        num_classes: number of classes.
        criterion: ``(logits [B, C], targets [B]) -> scalar``; cross-entropy by default.
    """

    def __init__(
        self, encoder: nn.Module, num_classes: int,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = LinearClassifier(encoder.feature_dim, num_classes)
        self.criterion = criterion if criterion is not None else nn.CrossEntropyLoss()

    def training_loss(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Classification loss on every view (``views``: ``[B, V, C, H, W]``)."""
        b, v = views.shape[:2]
        logits = self.classifier(self.encoder(views.flatten(0, 1))).float()
        return {"loss": self.criterion(logits, labels.repeat_interleave(v))}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encoder(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """L2-normalised encoder features (for UMAP)."""
        return F.normalize(self.encoder(x).float(), dim=-1)
