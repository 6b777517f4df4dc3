"""The loss library.

* ACL paper: :class:`SupConLoss`, :class:`ContrastiveLoss` (CL), :class:`FocalContrastiveLoss`,
  :class:`AsymmetricContrastiveLoss`, :class:`AsymmetricFocalContrastiveLoss`, :class:`FocalLoss`.
* BCL / RCL: :class:`BalancedContrastiveLoss`, :class:`RebalancedContrastiveLoss` (reconstructed),
  :class:`LogitAdjustedCrossEntropy`.
* ResCom: :class:`ClassBalancedSupConLoss`, :class:`ClassBalancedQueue`,
  :class:`BalancedSoftmaxLoss`, :class:`SiameseBalancedSoftmaxLoss`.
* :func:`get_loss` builds any of them by name.
"""

from imbalanced_contrastive.losses.asymmetric import (
    NORMALIZATIONS,
    AsymmetricContrastiveLoss,
    AsymmetricFocalContrastiveLoss,
    ContrastiveLoss,
    FocalContrastiveLoss,
)
from imbalanced_contrastive.losses.balanced import BalancedContrastiveLoss
from imbalanced_contrastive.losses.classification import CrossEntropyLoss, FocalLoss
from imbalanced_contrastive.losses.classification_lt import (
    BalancedSoftmaxLoss,
    LogitAdjustedCrossEntropy,
    SiameseBalancedSoftmaxLoss,
)
from imbalanced_contrastive.losses.rebalanced import RebalancedContrastiveLoss
from imbalanced_contrastive.losses.registry import LOSSES, get_loss, loss_parameters
from imbalanced_contrastive.losses.rescom import ClassBalancedQueue, ClassBalancedSupConLoss, effective_number_weights
from imbalanced_contrastive.losses.supcon import SupConLoss

__all__ = [
    "LOSSES",
    "NORMALIZATIONS",
    "AsymmetricContrastiveLoss",
    "AsymmetricFocalContrastiveLoss",
    "BalancedContrastiveLoss",
    "BalancedSoftmaxLoss",
    "ClassBalancedQueue",
    "ClassBalancedSupConLoss",
    "ContrastiveLoss",
    "CrossEntropyLoss",
    "FocalContrastiveLoss",
    "FocalLoss",
    "LogitAdjustedCrossEntropy",
    "RebalancedContrastiveLoss",
    "SiameseBalancedSoftmaxLoss",
    "SupConLoss",
    "effective_number_weights",
    "get_loss",
    "loss_parameters",
]
