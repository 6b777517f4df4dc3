"""Encoders and heads."""

from imbalanced_contrastive.models.encoders import ENCODERS, ResNet32, SmallCNN, TorchvisionResNet, build_encoder
from imbalanced_contrastive.models.heads import LinearClassifier, ProjectionHead

__all__ = [
    "ENCODERS",
    "LinearClassifier",
    "ProjectionHead",
    "ResNet32",
    "SmallCNN",
    "TorchvisionResNet",
    "build_encoder",
]
