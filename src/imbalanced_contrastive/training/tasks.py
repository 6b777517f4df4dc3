"""Tasks: what one training step of each recipe computes.

A task is an ``nn.Module`` whose ``forward(views, labels)`` returns a dict with a scalar
``"loss"`` (so that ``DistributedDataParallel`` wraps it unchanged), plus ``predict(x)`` (class
logits) and ``embed(x)`` (unit-norm features for UMAP). ``views`` is ``[B, V, C, H, W]``; all
views go through the encoder in **one** forward pass, so BatchNorm sees every view, as in the
BCL and ResCom code. Losses are computed in float32 even under autocast: the features are upcast
here and every loss disables autocast for its own computation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from imbalanced_contrastive.losses import ClassBalancedQueue
from imbalanced_contrastive.models.heads import LinearClassifier, ProjectionHead
from imbalanced_contrastive.training.distributed import gather_labels, gather_with_grad

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Embeds(nn.Module):
    """A task with an ``encoder``: ``embed(x)`` gives L2-normalised encoder features (for UMAP)."""

    encoder: nn.Module

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` images -> unit-norm features ``[B, F]``."""
        return F.normalize(self.encoder(x).float(), dim=-1)


class _Classifies(_Embeds):
    """A task with an ``encoder`` and a ``classifier``: ``predict(x)`` gives class logits (the loop
    evaluates such tasks on the test set)."""

    classifier: nn.Module

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` images -> logits ``[B, num_classes]``."""
        return self.classifier(self.encoder(x))


def _encode_views(encoder: nn.Module, views: torch.Tensor) -> torch.Tensor:
    """``[B, V, C, H, W]`` -> encoder features ``[B, V, F]`` in one pass."""
    b, v = views.shape[:2]
    return encoder(views.flatten(0, 1)).view(b, v, -1)


class SupervisedTask(_Classifies):
    """Encoder + linear classifier trained end to end with a classification loss (baselines:
    cross-entropy, focal loss, Balanced Softmax). Every view is a training sample."""

    def __init__(self, encoder: nn.Module, num_classes: int, criterion: Criterion | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = LinearClassifier(encoder.feature_dim, num_classes)
        self.criterion = criterion if criterion is not None else nn.CrossEntropyLoss()

    def forward(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        b, v = views.shape[:2]
        logits = self.classifier(self.encoder(views.flatten(0, 1))).float()
        return {"loss": self.criterion(logits, labels.repeat_interleave(v))}


class ContrastiveTask(_Embeds):
    """Stage 1 of the two-stage recipe (ACL paper, SupCon): encoder -> projection head ->
    contrastive loss on ``V >= 2`` views. Under ``torchrun`` the loss sees every rank's features."""

    def __init__(self, encoder: nn.Module, loss: nn.Module, embedding_dim: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = ProjectionHead(encoder.feature_dim, embedding_dim)
        self.loss = loss

    def forward(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        h = _encode_views(self.encoder, views)
        z = self.head(h.flatten(0, 1)).view(h.shape[0], h.shape[1], -1).float()
        return {"loss": self.loss(gather_with_grad(z), gather_labels(labels))}


class LinearProbe(SupervisedTask):
    """Stage 2 of the two-stage recipe: a linear classifier on a frozen encoder.

    It trains on the encoder's precomputed features: ``forward(views, labels)`` takes
    ``views = [B, 1, F]`` features; ``predict`` and ``embed`` take images.
    """

    def forward(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": self.criterion(self.classifier(views[:, 0]).float(), labels)}


class BCLTask(_Classifies):
    """BCL / RCL (one stage, two branches; ``book/paper_specs.md``, ``spec-bcl-losses``).

    Three views in one forward pass: view 1 feeds the classifier (logit-adjusted CE), views 2 and
    3 feed the projection head and the contrastive loss, whose class prototypes are the
    classifier weights through a second MLP.
    ``L = ce_weight * L_LC + contrastive_weight * L_contrastive`` (BCL's alpha and beta).
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        ce_loss: Criterion,
        contrastive_loss: nn.Module,
        ce_weight: float,
        contrastive_weight: float,
        embedding_dim: int = 128,
        hidden_dim: int = 512,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = LinearClassifier(encoder.feature_dim, num_classes)
        self.head = ProjectionHead(encoder.feature_dim, embedding_dim, hidden_dim, batch_norm=True)
        self.prototype_head = ProjectionHead(encoder.feature_dim, embedding_dim, hidden_dim, batch_norm=True)
        self.ce_loss, self.contrastive_loss = ce_loss, contrastive_loss
        self.ce_weight, self.contrastive_weight = ce_weight, contrastive_weight

    def forward(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        if views.shape[1] != 3:
            raise ValueError(f"BCL needs 3 views (classification + 2 contrastive); got {views.shape[1]}")
        b = views.shape[0]
        h = _encode_views(self.encoder, views)  # [B, 3, F]
        logits = self.classifier(h[:, 0]).float()
        z = self.head(h[:, 1:].flatten(0, 1)).view(b, 2, -1).float()
        prototypes = self.prototype_head(self.classifier.fc.weight).float()  # [C, D]
        ce = self.ce_loss(logits, labels)
        con = self.contrastive_loss(gather_with_grad(z), gather_labels(labels), prototypes)
        return {
            "loss": self.ce_weight * ce + self.contrastive_weight * con,
            "ce": ce.detach(),
            "contrastive": con.detach(),
        }


class ResComTask(_Classifies):
    """ResCom (one stage; ``book/paper_specs.md``, ``spec-rescom-losses``): Siamese Balanced Softmax on both views plus
    ``contrastive_weight`` (ResCom's lambda) x class-balanced SupCon with the class-balanced queue and
    hard mining. View-1 embeddings are pushed into the queue after the loss is computed."""

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        sbs_loss: Criterion,
        cbsc_loss: nn.Module,
        queue: ClassBalancedQueue | None,
        contrastive_weight: float,
        embedding_dim: int = 128,
        hidden_dim: int = 512,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = LinearClassifier(encoder.feature_dim, num_classes)
        self.head = ProjectionHead(encoder.feature_dim, embedding_dim, hidden_dim)
        self.sbs_loss, self.cbsc_loss, self.queue = sbs_loss, cbsc_loss, queue
        self.contrastive_weight = contrastive_weight

    def forward(self, views: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        if views.shape[1] != 2:
            raise ValueError(f"ResCom needs 2 views; got {views.shape[1]}")
        b = views.shape[0]
        h = _encode_views(self.encoder, views)  # [B, 2, F]
        logits = self.classifier(h.flatten(0, 1)).view(b, 2, -1).float()
        z = self.head(h.flatten(0, 1)).view(b, 2, -1).float()
        sbs = self.sbs_loss(logits, labels)
        cbsc = self.cbsc_loss(z, labels, self.queue)  # in-batch contrast is per rank
        if self.queue is not None and self.training:
            self.queue.push(z[:, 0].detach(), labels)  # gathers from every rank inside
        return {"loss": sbs + self.contrastive_weight * cbsc, "sbs": sbs.detach(), "cbsc": cbsc.detach()}
