"""The three run profiles, as data.

========  ======  ============================================  ======================================
profile   where   data                                          purpose
========  ======  ============================================  ======================================
smoke     tests   tiny subsets                                  proves every code path runs; seconds
quick     CPU     real Fashion-MNIST subsets                    a meaningful book on a laptop
paper     GPU     the papers' datasets and schedules            the reproduction
========  ======  ============================================  ======================================

The ``quick`` profile is :class:`~imbalanced_contrastive.training.config.ExperimentConfig`'s
defaults; :data:`SMOKE` lists what ``smoke`` changes; ``paper`` takes each dataset's settings from
the catalogue. Datasets and recipes add what they impose (:func:`profile_settings`). Notebooks take
``profile`` as a papermill parameter, and every other parameter they receive overrides it.
"""

from __future__ import annotations

from typing import Any

PROFILES = ("smoke", "quick", "paper")

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

PAPER: dict[str, Any] = dict(encoder_width=32, eval_every=10, augmentation="strong")
"""What the ``paper`` profile changes for every dataset (each dataset's protocol is in the catalogue);
long GPU runs keep a learning curve (a test evaluation every 10 epochs) and SimCLR-like views."""


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise ``ValueError`` listing the allowed ones."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {profile!r}")
    return profile


def profile_settings(profile: str, method: str, dataset: str = "fmnist") -> dict[str, Any]:
    """The settings of ``profile`` for ``method`` on ``dataset``, before the user's overrides
    (``loss_params`` holds loss parameters that differ from the method's defaults)."""
    from imbalanced_contrastive.data.catalogue import dataset_spec
    from imbalanced_contrastive.training.recipes import recipe_of

    check_profile(profile)
    spec, recipe = dataset_spec(dataset), recipe_of(method)
    settings: dict[str, Any] = {}
    if profile == "smoke":
        settings.update(SMOKE)
    elif profile == "paper":
        settings.update(PAPER)
        settings.update(spec.paper)
    settings.update(recipe.profile_settings(profile, dataset))
    settings.update(spec.settings)
    if profile == "smoke":
        settings.update(spec.smoke)
    return settings
