"""The three run profiles, as data.

========  ======  ============================================  ======================================
profile   where   data                                          purpose
========  ======  ============================================  ======================================
smoke     tests   tiny subsets                                  proves every code path runs; seconds
quick     CPU     real Fashion-MNIST subsets                    a meaningful book on a laptop
full      CPU     all of imbalanced Fashion-MNIST               the book's committed results
paper     GPU     the papers' datasets and schedules            the reproduction
========  ======  ============================================  ======================================

The ``quick`` profile is :class:`~imbalanced_contrastive.training.config.ExperimentConfig`'s
defaults; :data:`SMOKE` lists what ``smoke`` changes, :data:`FULL` what ``full`` changes (Fashion-MNIST
only: its records are trained once and committed under ``results/``); ``paper`` takes each dataset's settings from
the catalogue. Datasets and recipes add what they impose (:func:`profile_settings`). Notebooks take
``profile`` as a papermill parameter, and every other parameter they receive overrides it.
"""

from __future__ import annotations

from typing import Any

PROFILES = ("smoke", "quick", "full", "paper")

COMMITTED_PROFILES = ("full", "paper")
"""Profiles whose runs are trained once, committed under ``results/`` and loaded by the chapters
(:mod:`imbalanced_contrastive.committed`); they are retrained only when asked."""

SMOKE: dict[str, Any] = dict(
    train_per_class=40,
    test_per_class=20,
    ratio=4.0,
    many_threshold=30,
    few_threshold=12,
    epochs=1,
    batch_size=32,
    classifier_epochs=2,
    warmup_epochs=0,
    embed_points=100,
    queue_per_class=4,
    amp=False,
    encoder_width=32,
    lr=0.05,
    augmentation="strong",
)
"""What the ``smoke`` profile changes: tiny subsets and one epoch (and the strong views, so that the
tests exercise them)."""

FULL: dict[str, Any] = dict(
    train_per_class=None,
    test_per_class=None,
    many_threshold=3000,
    few_threshold=1000,
    encoder="small_cnn_2x2",
    epochs=8,
    weight_decay=1e-4,
)
"""What the ``full`` profile changes: the whole step-imbalanced training set (6000 images per majority
class, 600 per minority class at ratio 10), the whole test set, group thresholds that make the four
minority classes the ``few`` group, the small CNN pooled to a 2 x 2 grid (it keeps where a feature is:
+2.4 points of balanced accuracy for BCL over global pooling, same cost), and a schedule chosen by
measurement so that the benchmark grid trains in at most 100 minutes on a 2-core CPU and
cross-entropy on the balanced full set reaches 89 % (8 epochs; weight decay 1e-4, as the small
network underfits: benchmarks/README.md, "The full profile")."""

FULL_DATASETS = ("fmnist",)
"""The datasets the ``full`` profile is defined for."""

PAPER: dict[str, Any] = dict(encoder_width=32, eval_every=10, augmentation="strong")
"""What the ``paper`` profile changes for every dataset (each dataset's protocol is in the catalogue);
long GPU runs keep a learning curve (a test evaluation every 10 epochs) and SimCLR-like views."""


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise ``ValueError`` listing the allowed ones."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {profile!r}")
    return profile


def profile_datasets(profile: str) -> tuple[str, ...]:
    """The datasets ``profile`` is defined for (every dataset, except for ``full``)."""
    from imbalanced_contrastive.data.catalogue import DATASETS

    return FULL_DATASETS if check_profile(profile) == "full" else tuple(DATASETS)


def profile_settings(profile: str, method: str, dataset: str = "fmnist") -> dict[str, Any]:
    """The settings of ``profile`` for ``method`` on ``dataset``, before the user's overrides
    (``loss_params`` holds loss parameters that differ from the method's defaults)."""
    from imbalanced_contrastive.data.catalogue import dataset_spec
    from imbalanced_contrastive.training.recipes import recipe_of

    check_profile(profile)
    spec, recipe = dataset_spec(dataset), recipe_of(method)
    settings: dict[str, Any] = {}
    if profile == "full" and dataset not in FULL_DATASETS:
        raise ValueError(f"profile 'full' is defined for datasets {FULL_DATASETS}; got dataset {dataset!r}")
    if profile == "smoke":
        settings.update(SMOKE)
    elif profile == "full":
        settings.update(FULL)
    elif profile == "paper":
        settings.update(PAPER)
        settings.update(spec.paper)
    settings.update(recipe.profile_settings(profile, dataset))
    settings.update(spec.settings)
    if profile == "smoke":
        settings.update(spec.smoke)
    return settings
