"""The three run profiles (README, "Profiles"): ``smoke`` (tests, CI; tiny subsets, seconds),
``quick`` (CPU; real Fashion-MNIST subsets; minutes) and ``paper`` (GPU; the papers' data and
schedules). Notebooks take ``profile`` as a papermill parameter; the settings of each profile
live in :func:`imbalanced_contrastive.training.experiment.profile_defaults`, and any other
parameter a notebook receives overrides them."""

from __future__ import annotations

PROFILES = ("smoke", "quick", "paper")

def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise ``ValueError`` listing the allowed ones."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {profile!r}")
    return profile

