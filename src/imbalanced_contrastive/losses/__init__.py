"""The loss library: SupCon, CL/FCL/ACL/AFCL, focal and cross-entropy, and a name registry."""

from imbalanced_contrastive.losses.asymmetric import (
    NORMALIZATIONS,
    AsymmetricContrastiveLoss,
    AsymmetricFocalContrastiveLoss,
    ContrastiveLoss,
    FocalContrastiveLoss,
)
from imbalanced_contrastive.losses.classification import CrossEntropyLoss, FocalLoss
from imbalanced_contrastive.losses.registry import LOSSES, get_loss, loss_parameters, register_loss
from imbalanced_contrastive.losses.supcon import SupConLoss

__all__ = [
    "LOSSES", "NORMALIZATIONS", "AsymmetricContrastiveLoss", "AsymmetricFocalContrastiveLoss", "ContrastiveLoss",
    "CrossEntropyLoss", "FocalContrastiveLoss", "FocalLoss", "SupConLoss", "get_loss", "loss_parameters",
    "register_loss",
]
