"""Training throughput (images per second) of each recipe in the quick and paper profiles.

    python benchmarks/throughput.py                       # all recipes, quick and paper, best device
    python benchmarks/throughput.py --profiles paper --dataset cifar100 --device cuda

Images stay on the device and views are made there in batches (the path the training loop uses),
so on a GPU the number is bounded by the model, not a data loader. Inputs are random tensors of
the dataset's shape, so no dataset is needed; one "image" is one sample of the batch (its views
included). Not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import time

import torch

from imbalanced_contrastive.data.views import make_views
from imbalanced_contrastive.training.device import autocast, choose_precision, grad_scaler, select_device
from imbalanced_contrastive.data.catalogue import dataset_spec
from imbalanced_contrastive.training import make_config, recipe_of
REPRESENTATIVE = ["ce", "afcl", "bcl", "rcl", "rescom"]


def images_per_second(method: str, profile: str, dataset: str, device: torch.device, steps: int) -> float:
    config = make_config(method, profile, dataset)
    spec, recipe = dataset_spec(dataset), recipe_of(method)
    c = spec.num_classes
    counts = [100] * c
    task = recipe.build_task(config, counts, device)
    task.train()
    opt = torch.optim.SGD(task.parameters(), lr=1e-3, momentum=0.9)
    b = config.batch_size
    images = torch.randn(b * 4, spec.in_channels, spec.side, spec.side, device=device)
    labels = torch.arange(b * 4, device=device) % c
    augment = recipe.augment(config)
    gen = torch.Generator().manual_seed(0)
    precision = choose_precision(device, config.amp)
    scaler = grad_scaler(device, precision)

    def step(i: int) -> None:
        idx = torch.arange(i % 4 * b, (i % 4 + 1) * b, device=device)
        views = make_views(images[idx], recipe.n_views, augment, gen)
        with autocast(device, precision):
            loss = task(views, labels[idx])["loss"]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

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
            print(f"{profile:<8} {method:<10} {config.encoder:<10} {config.batch_size:>6} {recipe_of(method).n_views:>6} {ips:>10.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
