"""Training: device and seeding, the shared loop, checkpoints, tasks."""

from imbalanced_contrastive.training.checkpoint import load_checkpoint, save_checkpoint
from imbalanced_contrastive.training.device import (
    autocast, choose_precision, derive_seed, grad_scaler, progress_enabled, seed_everything, select_device,
)
from imbalanced_contrastive.training.loop import LoopConfig, evaluate, fit
from imbalanced_contrastive.training.tasks import SupervisedTask

__all__ = [
    "LoopConfig", "SupervisedTask", "autocast", "choose_precision", "derive_seed", "grad_scaler", "evaluate", "fit", "load_checkpoint",
    "progress_enabled", "save_checkpoint", "seed_everything", "select_device",
]
