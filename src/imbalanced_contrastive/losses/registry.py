"""Losses by name, for notebooks and the command line: ``get_loss("afcl", gamma=2, eta=100)``."""

from __future__ import annotations

import inspect

import torch.nn as nn

from imbalanced_contrastive.losses.asymmetric import (
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
from imbalanced_contrastive.losses.rescom import ClassBalancedSupConLoss
from imbalanced_contrastive.losses.supcon import SupConLoss

LOSSES: dict[str, type[nn.Module]] = {
    "supcon": SupConLoss,
    "cl": ContrastiveLoss,
    "fcl": FocalContrastiveLoss,
    "acl": AsymmetricContrastiveLoss,
    "afcl": AsymmetricFocalContrastiveLoss,
    "ce": CrossEntropyLoss,
    "focal": FocalLoss,
    "bcl": BalancedContrastiveLoss,
    "rcl": RebalancedContrastiveLoss,
    "rescom": ClassBalancedSupConLoss,
    "la_ce": LogitAdjustedCrossEntropy,
    "balanced_softmax": BalancedSoftmaxLoss,
    "siamese_balanced_softmax": SiameseBalancedSoftmaxLoss,
}


def loss_parameters(name: str) -> list[str]:
    """The constructor parameters of the loss ``name``."""
    cls = _lookup(name)
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _lookup(name: str) -> type[nn.Module]:
    if not isinstance(name, str) or name.lower() not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} (a name, as a string); got {name!r}")
    return LOSSES[name.lower()]


def get_loss(name: str, **kwargs) -> nn.Module:
    """Build the loss ``name`` with ``kwargs``.

    Raises:
        ValueError: an unknown name (listing the registered ones), or a parameter the loss does
            not take (listing the ones it does).
    """
    cls = _lookup(name)
    allowed = loss_parameters(name)
    unknown = sorted(set(kwargs) - set(allowed))
    required = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.default is inspect.Parameter.empty and p.name not in kwargs
    ]
    if required:
        raise ValueError(f"loss {name!r} needs the parameters {required} (it takes {allowed})")
    if unknown:
        raise ValueError(f"loss {name!r} takes the parameters {allowed}; got unknown {unknown}")
    return cls(**kwargs)
