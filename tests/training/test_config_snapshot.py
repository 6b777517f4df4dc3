"""The refactor into config / profiles / recipes / catalogue changed no run's settings: every
profile's effective config, for every dataset and method, equals the snapshot taken before it
(``snapshots/effective_configs.json``, written by the former ``experiment.profile_defaults``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imbalanced_contrastive.data import DATASETS
from imbalanced_contrastive.training import METHODS, PROFILES, make_config

SNAPSHOT = json.loads((Path(__file__).parent / "snapshots" / "effective_configs.json").read_text())


@pytest.mark.parametrize("profile", PROFILES)
def test_effective_configs_are_unchanged(profile):
    changed = []
    for dataset in DATASETS:
        for method in METHODS:
            config = make_config(method, profile, dataset)
            now = json.loads(json.dumps({**config.to_dict(), "recipe": config.recipe, "loss": config.loss}))
            before = SNAPSHOT[f"{profile}/{dataset}/{method}"]
            if now != before:
                changed.append(f"{dataset}/{method}: " + ", ".join(
                    f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(now) | set(before)) if now.get(k) != before.get(k)))
    assert not changed, "settings changed:\n" + "\n".join(changed)
    assert len(SNAPSHOT) == len(PROFILES) * len(DATASETS) * len(METHODS)
