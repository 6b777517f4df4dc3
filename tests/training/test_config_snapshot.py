"""No run's settings change by accident: every profile's effective config, for every dataset and
method, equals the reviewed snapshot ``snapshots/effective_configs.json``.

The snapshot was first written by the code before the refactor into config / profiles / recipes /
catalogue (which changed nothing). A deliberate change of a profile rewrites it with
``python tests/training/test_config_snapshot.py --update``, after reading the differences this test
lists, and says so in the README's "Changes to the profiles" (0.2.0: the quick profile of issue 16,
the new ``augmentation`` and ``eval_every`` fields)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imbalanced_contrastive.training import METHODS, PROFILES, make_config
from imbalanced_contrastive.training.profiles import profile_datasets

SNAPSHOT_FILE = Path(__file__).parent / "snapshots" / "effective_configs.json"
SNAPSHOT = json.loads(SNAPSHOT_FILE.read_text())


def effective_config(profile: str, dataset: str, method: str) -> dict:
    config = make_config(method, profile, dataset)
    return json.loads(json.dumps({**config.to_dict(), "recipe": config.recipe, "loss": config.loss}))


@pytest.mark.parametrize("profile", PROFILES)
def test_effective_configs_are_unchanged(profile):
    changed = []
    for dataset in profile_datasets(profile):
        for method in METHODS:
            now = effective_config(profile, dataset, method)
            before = SNAPSHOT[f"{profile}/{dataset}/{method}"]
            if now != before:
                changed.append(
                    f"{dataset}/{method}: "
                    + ", ".join(
                        f"{k} {before.get(k)!r} -> {now.get(k)!r}"
                        for k in sorted(set(now) | set(before))
                        if now.get(k) != before.get(k)
                    )
                )
    assert not changed, "settings changed:\n" + "\n".join(changed)
    assert len(SNAPSHOT) == sum(len(profile_datasets(p)) for p in PROFILES) * len(METHODS)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/training/test_config_snapshot.py --update   (rewrites the snapshot)")
    snapshot = {
        f"{p}/{d}/{m}": effective_config(p, d, m) for p in PROFILES for d in profile_datasets(p) for m in METHODS
    }
    SNAPSHOT_FILE.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(snapshot)} configs to {SNAPSHOT_FILE}")
