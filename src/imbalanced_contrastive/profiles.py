"""The three run profiles (``shared/DESIGN.md``): ``smoke`` (tests, CI; tiny subsets, seconds),
``quick`` (CPU; real Fashion-MNIST subsets; minutes) and ``paper`` (GPU; the papers' data and
schedules). Notebooks take ``profile`` as a papermill parameter and read their settings here;
any other parameter they receive overrides the profile."""

from __future__ import annotations

PROFILES = ("smoke", "quick", "paper")

# Data settings of the Fashion-MNIST step-imbalance experiment (ACL paper). The paper's exact
# minority classes and ratio were not recoverable (shared/papers/acl.md section 5.2): these are
# documented defaults, not the paper's protocol.
FMNIST_DATA = {
    "smoke": {"train_per_class": 40, "test_per_class": 20, "many_threshold": 30, "few_threshold": 10},
    "quick": {"train_per_class": 1000, "test_per_class": 300, "many_threshold": 300, "few_threshold": 120},
    "paper": {"train_per_class": None, "test_per_class": None, "many_threshold": 100, "few_threshold": 20},
}


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise ``ValueError`` listing the allowed ones."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {profile!r}")
    return profile


def fmnist_data_settings(profile: str) -> dict:
    """Subset sizes and group thresholds of Fashion-MNIST for ``profile``."""
    return dict(FMNIST_DATA[check_profile(profile)])
