"""The device check: does every method train on this GPU, without host synchronisations, in fp16
and bf16, bit-exactly resumable, and how fast? One command, one JSON summary.

    python benchmarks/device_check.py --out device_check.json           # on a CUDA machine
    python benchmarks/device_check.py --dry-run --methods ce afcl bcl    # the same code on the CPU
    make device-check                                                    # the first, OUT=... to choose the file

Four parts, each a section of the summary (``ok`` is true when all passed):

1. ``sync``: two training steps of every method (after one warm-up step) under
   ``torch.cuda.set_sync_debug_mode("error")``: any host synchronisation raises.
2. ``precision``: one smoke epoch of every method in fp16 with gradient scaling (Colab's T4 and
   other GPUs before Ampere) and in bf16 (A100/H100): finite, and the first step's loss within 1 %
   of fp32's on the same weights and views.
3. ``resume``: a deterministic run (``deterministic=True``) killed after its second epoch and
   resumed equals the uninterrupted run bit for bit (metrics, per-epoch losses, embeddings).
4. ``throughput``: training images per second of every method in the quick profile (random
   inputs of Fashion-MNIST's shape; ``benchmarks/throughput.py``).

``--dry-run`` runs parts 2-4 on the CPU (CPU autocast emulates fp16 and bf16) and part 1 without
the debug mode (the CPU has nothing to synchronise with; ``tests/training/test_gpu_path.py`` counts
the synchronisations of every recipe's step on the meta device). Parts 1 and 2 need real
Fashion-MNIST (``--data-dir`` or the usual places). Designed to take at most 6 minutes of an H100.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
import time
import traceback
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import images_per_second  # noqa: E402

from imbalanced_contrastive.data.views import make_views, to_float  # noqa: E402
from imbalanced_contrastive.provenance import provenance  # noqa: E402
from imbalanced_contrastive.training import (  # noqa: E402
    loop,  # noqa: E402
    make_config,
    run_experiment,
    splits_for,
)
from imbalanced_contrastive.training.device import autocast, grad_scaler, select_device  # noqa: E402
from imbalanced_contrastive.training.distributed import DistInfo  # noqa: E402
from imbalanced_contrastive.training.recipes import METHODS, make_sgd, recipe_of  # noqa: E402

HALF = ("fp16", "bf16")
TOLERANCE = 0.01


def _settings(args: argparse.Namespace) -> dict:
    return {"data_dir": args.data_dir} if args.data_dir else {}


def _task(method: str, splits, device: torch.device, **settings):
    config = make_config(method, "smoke", device=str(device), **settings)
    recipe = recipe_of(method)
    torch.manual_seed(0)
    return config, recipe, recipe.build_task(config, [int(c) for c in splits.class_counts], device)


def check_syncs(methods: list[str], device: torch.device, args: argparse.Namespace) -> dict:
    """Part 1: the loop's own step (plan, views, forward, backward, optimiser, on-device stats),
    in every precision the device trains in (fp16 with gradient scaling, and bf16 where supported)."""
    out = {}
    if device.type == "cuda":
        precisions = ["fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    else:
        precisions = ["fp32"]
    for method in methods:
        splits = splits_for(make_config(method, "smoke", **_settings(args)))
        for precision in precisions:
            key = f"{method}/{precision}"
            try:
                out[key] = _sync_free_steps(method, splits, device, precision, args)
            except Exception as err:  # noqa: BLE001 - a failure is a result of the check
                out[key] = {
                    "ok": False,
                    "error": f"{type(err).__name__}: {err}",
                    "trace": traceback.format_exc(limit=6),
                }
    return out


def _sync_free_steps(method: str, splits, device: torch.device, precision: str, args: argparse.Namespace) -> dict:
    config, recipe, task = _task(method, splits, device, **_settings(args))
    optimizer = make_sgd(task.parameters(), config, config.lr)
    scaler = grad_scaler(device, precision)
    loop_config = loop.LoopConfig(
        epochs=1, batch_size=config.batch_size, seed=0, n_views=recipe.n_views, progress=False
    )
    images, labels = splits.train.images.to(device), splits.train.labels.to(device)
    augment = recipe.augment(config)
    plan = loop.plan_epoch(len(labels), loop_config, 0, augment, device)
    stats = loop.EpochStats(len(plan.bounds), device)

    def step(i: int) -> None:
        views, y = loop.step_inputs(plan, i, DistInfo(), images, labels, splits.train.name, augment, recipe.n_views)
        stats.add(i, loop.training_step(task, optimizer, scaler, views, y, device, precision))

    step(0)  # warm-up: lazy initialisations (cuBLAS handles, cuDNN plans, optimiser state) may synchronise
    debug = device.type == "cuda"
    if debug:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        for i in (1, 2):
            step(i % len(plan.bounds))
    finally:
        if debug:
            torch.cuda.set_sync_debug_mode(0)
    stats.read(DistInfo(), 0)
    return {
        "ok": True,
        "steps_checked": 2,
        "debug_mode": "error" if debug else "off (dry run)",
        "fused_optimizer": bool(optimizer.defaults.get("fused")),
    }


def _first_step_loss(method: str, splits, device: torch.device, precision: str, settings: dict) -> float:
    _, recipe, task = _task(method, splits, device, **settings)
    config = make_config(method, "smoke", **settings)
    task.train()
    x = to_float(splits.train.images[:32].to(device), splits.train.name)
    views = make_views(x, recipe.n_views, recipe.augment(config), torch.Generator().manual_seed(0))
    with autocast(device, precision):
        return float(task(views, splits.train.labels[:32].to(device))["loss"].detach())


def check_precisions(methods: list[str], device: torch.device, args: argparse.Namespace) -> dict:
    """Part 2: one smoke epoch per method and half precision; first-step loss against fp32."""
    out = {}
    settings = _settings(args)
    for method in methods:
        splits = splits_for(make_config(method, "smoke", **settings))
        reference = _first_step_loss(method, splits, device, "fp32", settings)
        for precision in HALF:
            key = f"{method}/{precision}"
            try:
                t0 = time.perf_counter()
                first = _first_step_loss(method, splits, device, precision, settings)
                config, recipe, task = _task(method, splits, device, **settings)
                loop_config = loop.LoopConfig(
                    epochs=1,
                    batch_size=config.batch_size,
                    seed=0,
                    n_views=recipe.n_views,
                    progress=False,
                    eval_every=None,
                )
                history = loop.fit(
                    task,
                    splits,
                    make_sgd(task.parameters(), config, config.lr),
                    loop_config,
                    device,
                    augment=recipe.augment(config),
                    precision=precision,
                )
                relative = abs(first - reference) / max(abs(reference), 1e-12)
                finite = math.isfinite(history[-1]["loss"])
                out[key] = {
                    "ok": finite and relative <= TOLERANCE,
                    "epoch_loss": history[-1]["loss"],
                    "first_step_loss": first,
                    "fp32_first_step_loss": reference,
                    "relative_difference": relative,
                    "seconds": time.perf_counter() - t0,
                }
            except Exception as err:  # noqa: BLE001
                out[key] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    return out


def check_resume(device: torch.device, args: argparse.Namespace, method: str = "afcl") -> dict:
    """Part 3: kill after epoch 2 of 3, resume, compare with the uninterrupted run bit for bit."""
    config = make_config(method, "smoke", epochs=3, deterministic=True, device=str(device), **_settings(args))
    with tempfile.TemporaryDirectory() as tmp:
        whole = run_experiment(config, runs_root=Path(tmp) / "whole", progress=False)
        real_save, saves = loop.save_checkpoint, []

        def save_then_die(state, directory):
            path = real_save(state, directory)
            saves.append(path)
            if len(saves) == 2:
                raise KeyboardInterrupt("killed after the second epoch's checkpoint")
            return path

        with mock.patch.object(loop, "save_checkpoint", save_then_die), contextlib.suppress(KeyboardInterrupt):
            run_experiment(config, runs_root=Path(tmp) / "killed", progress=False)
        resumed = run_experiment(config, runs_root=Path(tmp) / "killed", progress=False)
    same = {
        "metrics": json.dumps(whole.metrics, sort_keys=True) == json.dumps(resumed.metrics, sort_keys=True),
        "epoch_losses": [h["loss"] for h in whole.history] == [h["loss"] for h in resumed.history],
        "embeddings": bool(np.array_equal(whole.embeddings, resumed.embeddings)),
    }
    return {
        "ok": all(same.values()) and len(saves) == 2,
        "method": method,
        "killed_after_epoch": 2,
        "identical": same,
        "precision": whole.provenance["precision"],
        "balanced_accuracy": whole.metrics["balanced_accuracy"],
    }


def check_throughput(methods: list[str], device: torch.device, steps: int) -> dict:
    """Part 4: quick-profile training images per second."""
    out = {}
    for method in methods:
        try:
            out[method] = {"ok": True, "images_per_second": images_per_second(method, "quick", "fmnist", device, steps)}
        except Exception as err:  # noqa: BLE001
            out[method] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
    return out


def _all_ok(section) -> bool:
    if isinstance(section, dict) and "ok" in section:
        return bool(section["ok"])
    return all(_all_ok(v) for v in section.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="run on the CPU (CI); no sync debug mode")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        choices=list(METHODS),
        metavar="METHOD",
        help=f"methods to check (default: all {len(METHODS)})",
    )
    parser.add_argument(
        "--data-dir", default=None, help="folder with the Fashion-MNIST files (default: the usual places)"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per method for the throughput (default 20)")
    parser.add_argument("--out", default="device_check.json", help="where to write the JSON summary")
    args = parser.parse_args(argv)
    device = torch.device("cpu") if args.dry_run else select_device("auto")
    if device.type != "cuda" and not args.dry_run:
        parser.error("no CUDA device: run on a GPU machine, or pass --dry-run to rehearse on the CPU")
    t0 = time.perf_counter()
    summary: dict = {
        "dry_run": args.dry_run,
        "device": provenance(device)["device"],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "methods": args.methods,
    }
    if device.type == "cuda":
        summary["capability"] = list(torch.cuda.get_device_capability(device))
    parts = (
        ("sync", lambda: check_syncs(args.methods, device, args)),
        ("precision", lambda: check_precisions(args.methods, device, args)),
        ("resume", lambda: check_resume(device, args)),
        ("throughput", lambda: check_throughput(args.methods, device, args.steps)),
    )
    for name, part in parts:
        t = time.perf_counter()
        summary[name] = part()
        summary[f"{name}_seconds"] = round(time.perf_counter() - t, 1)
        print(
            f"device check: {name} {'ok' if _all_ok(summary[name]) else 'FAILED'} ({summary[f'{name}_seconds']} s)",
            flush=True,
        )
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["ok"] = all(_all_ok(summary[name]) for name, _ in parts)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"device check {'passed' if summary['ok'] else 'FAILED'} in {summary['seconds']} s; summary: {args.out}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
