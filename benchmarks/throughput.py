"""Training throughput (images per second) of each recipe in the quick and paper profiles.

    python benchmarks/throughput.py                       # all recipes, quick and paper, best device
    python benchmarks/throughput.py --profiles paper --dataset cifar100 --device cuda

It times the training loop's own step: views made on the device from the epoch's plan (one upload
per epoch), the forward pass under the device's precision, backward, the optimiser (fused on
CUDA) and the on-device statistics, with no host synchronisation inside the timed steps; so on a
GPU the number is bounded by the model, not a data loader. Inputs are random images of the
dataset's shape, so no dataset is needed; one "image" is one sample of the batch (its views
included). Not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import time

import torch

from imbalanced_contrastive.data.catalogue import dataset_spec
from imbalanced_contrastive.training import make_config, recipe_of
from imbalanced_contrastive.training.device import choose_precision, grad_scaler, select_device
from imbalanced_contrastive.training.distributed import DistInfo
from imbalanced_contrastive.training.loop import EpochStats, LoopConfig, plan_epoch, step_inputs, training_step
from imbalanced_contrastive.training.recipes import make_sgd

REPRESENTATIVE = ["ce", "afcl", "bcl", "rcl", "rescom"]


def images_per_second(method: str, profile: str, dataset: str, device: torch.device, steps: int) -> float:
    """Training images per second of the loop's own step (:func:`~imbalanced_contrastive.training.loop.training_step`
    on views from the epoch plan), after two warm-up steps."""
    config = make_config(method, profile, dataset)
    spec, recipe = dataset_spec(dataset), recipe_of(method)
    c = spec.num_classes
    counts = [100] * c
    torch.manual_seed(0)
    task = recipe.build_task(config, counts, device)
    task.train()
    optimizer = make_sgd(task.parameters(), config, 1e-3)
    b = config.batch_size
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (b * 4, spec.in_channels, spec.side, spec.side), dtype=torch.uint8, generator=g).to(
        device
    )
    labels = (torch.arange(b * 4) % c).to(device)
    augment = recipe.augment(config)
    precision = choose_precision(device, config.amp)
    scaler = grad_scaler(device, precision)
    loop_config = LoopConfig(epochs=1, batch_size=b, seed=0, n_views=recipe.n_views, progress=False)
    plan = plan_epoch(len(labels), loop_config, 0, augment, device)
    stats = EpochStats(len(plan.bounds), device)

    def step(i: int) -> None:
        views, y = step_inputs(plan, i % len(plan.bounds), DistInfo(), images, labels, dataset, augment, recipe.n_views)
        stats.add(i % len(plan.bounds), training_step(task, optimizer, scaler, views, y, device, precision))

    for i in range(2):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * b / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["quick", "paper"])
    parser.add_argument("--methods", nargs="+", default=REPRESENTATIVE)
    parser.add_argument("--dataset", default="fmnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    device = select_device(args.device)
    print(f"training throughput on {device} ({args.dataset}, random inputs, {args.steps} timed steps)")
    print(f"{'profile':<8} {'method':<10} {'encoder':<10} {'batch':>6} {'views':>6} {'images/s':>10}")
    for profile in args.profiles:
        for method in args.methods:
            config = make_config(method, profile, args.dataset)
            ips = images_per_second(method, profile, args.dataset, device, args.steps)
            print(
                f"{profile:<8} {method:<10} {config.encoder:<10} {config.batch_size:>6} "
                f"{recipe_of(method).n_views:>6} {ips:>10.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
