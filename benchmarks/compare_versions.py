"""CPU training speed of this checkout against another version of the library, measured in one
process with the two interleaved, so that the noise of a shared machine hits both alike.

    git worktree add /tmp/baseline <commit>
    python benchmarks/compare_versions.py /tmp/baseline/src                  # every method, quick profile
    python benchmarks/compare_versions.py /tmp/baseline/src --methods bcl --rounds 7
    python benchmarks/compare_versions.py /tmp/baseline/src --losses --batch-sizes 1024 4096

The other version's package is copied under the name ``imbalanced_contrastive_baseline`` (its
imports rewritten), so both import side by side. For each method both versions build the same
task (same seed, so the same initial weights) on the same synthetic training set of the quick
profile's image shape, and each round trains one epoch of ``--steps`` steps with each version's
own ``fit`` (views, forward, backward, optimiser, its per-step bookkeeping), alternating which
goes first. Reported: the median images per second of each and the change. With ``--losses``, every
contrastive loss's forward+backward on the inputs of ``benchmarks/losses.py`` instead, the two
versions alternating run by run (median milliseconds). Not a test.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

NAME = "imbalanced_contrastive"
BASELINE = "imbalanced_contrastive_baseline"


def import_baseline(src: Path, into: Path):
    """Copy ``src/imbalanced_contrastive`` to ``into/imbalanced_contrastive_baseline`` with its imports
    renamed, and import its training modules."""
    target = into / BASELINE
    shutil.copytree(src / NAME, target)
    for path in target.rglob("*.py"):
        text = path.read_text()
        path.write_text(re.sub(rf"\b{NAME}\b", BASELINE, text))
    sys.path.insert(0, str(into))
    return importlib.import_module(BASELINE)


def _epoch(pkg: str, method: str, steps: int, seed: int = 0) -> float:
    """Images per second of one epoch of ``steps`` steps of ``method`` with package ``pkg``."""
    config_mod = importlib.import_module(f"{pkg}.training.config")
    recipes = importlib.import_module(f"{pkg}.training.recipes")
    loop = importlib.import_module(f"{pkg}.training.loop")
    dataset = importlib.import_module(f"{pkg}.data.dataset")
    config = config_mod.make_config(method, "quick")
    recipe = recipes.recipe_of(method)
    b = config.batch_size
    g = torch.Generator().manual_seed(seed)
    n = b * steps
    side = importlib.import_module(f"{pkg}.data.catalogue").dataset_spec("fmnist").side
    images = torch.randint(0, 256, (n, 1, side, side), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 10
    names = [f"class {c}" for c in range(10)]
    splits = dataset.DataSplits(
        dataset.ImageArrayDataset(images, labels, names, "fmnist"),
        dataset.ImageArrayDataset(images[:10], labels[:10], names, "fmnist"),
    )
    torch.manual_seed(seed)
    task = recipe.build_task(config, [n // 10] * 10, torch.device("cpu"))
    optimizer = torch.optim.SGD(task.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    loop_config = loop.LoopConfig(
        epochs=1, batch_size=b, seed=seed, n_views=recipe.n_views, progress=False, eval_every=None
    )
    t0 = time.perf_counter()
    loop.fit(task, splits, optimizer, loop_config, torch.device("cpu"), augment=recipe.augment(config))
    return n / (time.perf_counter() - t0)


def _loss_step(pkg: str, name: str, b: int):
    """A forward+backward of loss ``name`` of package ``pkg`` on ``benchmarks/losses.py``'s inputs."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import losses as bench

    losses = importlib.import_module(f"{pkg}.losses")
    g = torch.Generator().manual_seed(0)
    z0 = torch.nn.functional.normalize(torch.randn(b, 128, generator=g), dim=-1)
    y = torch.randint(0, bench.CLASSES, (b,), generator=g)
    prototypes = torch.nn.functional.normalize(torch.randn(bench.CLASSES, 128, generator=g), dim=-1)
    params = bench.parameters(name)
    loss = losses.get_loss(name, temperature=bench.TAU[name], **params)
    extra = (prototypes,) if name in ("bcl", "rcl") else ()
    if name == "rescom":
        extra = (losses.ClassBalancedQueue(bench.CLASSES, bench.QUEUE, 128, seed=0),)

    def step() -> None:
        z = z0.clone().requires_grad_(True)
        loss(z, y, *extra).backward()

    return step


def compare_losses(names: list[str], batch_sizes: list[int], rounds: int) -> None:
    print(
        f"forward+backward, D=128, CPU ({torch.get_num_threads()} threads), {rounds} alternating runs each; median ms"
    )
    print(f"{'loss':<8} {'B':>6} {'baseline':>9} {'this':>9} {'change':>8}")
    for name in names:
        for b in batch_sizes:
            steps = {pkg: _loss_step(pkg, name, b) for pkg in (BASELINE, NAME)}
            times: dict[str, list[float]] = {pkg: [] for pkg in steps}
            for step in steps.values():
                step()
            for r in range(rounds):
                for pkg in (BASELINE, NAME) if r % 2 == 0 else (NAME, BASELINE):
                    t0 = time.perf_counter()
                    steps[pkg]()
                    times[pkg].append(1000 * (time.perf_counter() - t0))
            old, new = statistics.median(times[BASELINE]), statistics.median(times[NAME])
            print(f"{name:<8} {b:>6} {old:>9.1f} {new:>9.1f} {100 * (new / old - 1):>+7.1f}%", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline_src", type=Path, help="the other version's src/ folder")
    parser.add_argument("--methods", nargs="+", default=None, help="default: every method")
    parser.add_argument("--steps", type=int, default=12, help="steps per epoch (default 12)")
    parser.add_argument("--rounds", type=int, default=5, help="epochs (or loss runs) per version (default 5)")
    parser.add_argument("--losses", action="store_true", help="compare the contrastive losses instead")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096], help="with --losses")
    args = parser.parse_args(argv)
    if not (args.baseline_src / NAME).is_dir():
        parser.error(f"{args.baseline_src} holds no {NAME}/ package")
    from imbalanced_contrastive.training.recipes import METHODS

    methods = args.methods or list(METHODS)
    with tempfile.TemporaryDirectory() as tmp:
        import_baseline(args.baseline_src, Path(tmp))
        if args.losses:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import losses as bench

            compare_losses(args.methods or list(bench.LOSSES), args.batch_sizes, args.rounds)
            return 0
        print(
            f"quick profile, CPU ({torch.get_num_threads()} threads), {args.steps} steps x {args.rounds} "
            "interleaved epochs per version; median images/s"
        )
        print(f"{'method':<18} {'baseline':>9} {'this':>9} {'change':>8}")
        for method in methods:
            speed: dict[str, list[float]] = {BASELINE: [], NAME: []}
            _epoch(BASELINE, method, 2), _epoch(NAME, method, 2)  # warm-up
            for r in range(args.rounds):
                order = (BASELINE, NAME) if r % 2 == 0 else (NAME, BASELINE)
                for pkg in order:
                    speed[pkg].append(_epoch(pkg, method, args.steps))
            old, new = statistics.median(speed[BASELINE]), statistics.median(speed[NAME])
            print(f"{method:<18} {old:>9.0f} {new:>9.0f} {100 * (new / old - 1):>+7.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
