"""Training, in the order the data flows: a config (:mod:`.config`, defaults once; :mod:`.profiles`),
a recipe per method family (:mod:`.recipes`, which builds the :mod:`.tasks`), the one loop
(:mod:`.loop`: device, precision, checkpoint, resume, progress), and the runner (:mod:`.runner`:
cache and run records)."""

from imbalanced_contrastive.training.checkpoint import load_checkpoint, save_checkpoint
from imbalanced_contrastive.training.config import CONFIG_FIELDS, ExperimentConfig, make_config, overrides_from
from imbalanced_contrastive.training.device import (
    autocast,
    choose_precision,
    derive_seed,
    grad_scaler,
    progress_enabled,
    seed_everything,
    select_device,
)
from imbalanced_contrastive.training.loop import LoopConfig, evaluate, fit
from imbalanced_contrastive.training.profiles import PROFILES, check_profile
from imbalanced_contrastive.training.recipes import METHODS, RECIPES, recipe_of
from imbalanced_contrastive.training.runner import run_all, run_experiment, runs_dir, splits_for
from imbalanced_contrastive.training.tasks import SupervisedTask

__all__ = [
    "CONFIG_FIELDS",
    "METHODS",
    "PROFILES",
    "RECIPES",
    "ExperimentConfig",
    "LoopConfig",
    "SupervisedTask",
    "autocast",
    "check_profile",
    "choose_precision",
    "derive_seed",
    "evaluate",
    "fit",
    "grad_scaler",
    "load_checkpoint",
    "make_config",
    "overrides_from",
    "progress_enabled",
    "recipe_of",
    "run_all",
    "run_experiment",
    "runs_dir",
    "save_checkpoint",
    "seed_everything",
    "select_device",
    "splits_for",
]
