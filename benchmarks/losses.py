"""Forward+backward time and peak memory of AFCL: this library vs a dense reimplementation of the
authors' formulation (written from book/paper_specs.md, spec-acl-losses: bare exp, N x N matrices,
``mean`` over columns). Not a test: prints a table.

    python benchmarks/losses.py                 # B in {256, 1024, 4096}, D = 128, on the best device
    python benchmarks/losses.py --device cpu --batch-sizes 256 1024

Times are medians of runs that alternate between the two implementations (so machine noise hits
both alike); peak memory (CUDA: peak allocated; CPU: peak resident-set growth) is measured in a
fresh subprocess per (implementation, B).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def authors_formulation(z: torch.Tensor, y: torch.Tensor, tau: float, gamma: float, eta: float) -> torch.Tensor:
    """Dense AFCL as the official code computes it (spec-acl-losses), integer gamma only."""
    n = z.shape[0]
    eye = torch.eye(n, device=z.device)
    same = (y.view(-1, 1) == y.view(1, -1)).float()
    pos, neg = same - eye, 1.0 - same
    logits = z @ z.T / tau
    exp_logits = torch.exp(logits) * (1.0 - eye)
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    prob = torch.exp(log_prob)
    one_minus = (1.0 - prob) * (1.0 - eye) + eye
    pos_term = (pos * (1.0 - prob) ** gamma * log_prob).mean(1)
    neg_term = (neg * torch.log(one_minus)).mean(1)
    return -(pos_term + eta * neg_term).mean()


def _setup(impl: str, b: int, d: int, device: torch.device):
    from imbalanced_contrastive.losses import AsymmetricFocalContrastiveLoss

    g = torch.Generator().manual_seed(0)
    z0 = F.normalize(torch.randn(b, d, generator=g), dim=-1).to(device)
    y = torch.randint(0, 10, (b,), generator=g).to(device)
    ours = AsymmetricFocalContrastiveLoss(0.07, gamma=2.0, eta=100.0)

    def step() -> None:
        z = z0.clone().requires_grad_(True)
        loss = ours(z, y) if impl == "library" else authors_formulation(z, y, 0.07, 2.0, 100.0)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def peak_memory(impl: str, b: int, d: int, device: str) -> float:
    """Peak memory (MiB) of one forward+backward, measured in this (fresh) process."""
    dev = torch.device(device)
    step = _setup(impl, b, d, dev)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        step()
        return (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024


def interleaved_times(b: int, d: int, device: str, reps: int) -> dict[str, float]:
    """Median forward+backward time (ms) of both implementations, run alternately so that machine
    noise hits both alike; at least ``reps`` runs each and at least 2 s in all."""
    dev = torch.device(device)
    steps = {impl: _setup(impl, b, d, dev) for impl in ("library", "authors")}
    for step in steps.values():  # warm-up
        step()
    times: dict[str, list[float]] = {impl: [] for impl in steps}
    start = time.perf_counter()
    while len(times["library"]) < reps or time.perf_counter() - start < 2.0:
        for impl, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[impl].append(time.perf_counter() - t0)
    return {impl: 1000 * statistics.median(t) for impl, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--single", nargs=2, metavar=("IMPL", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(peak_memory(args.single[0], int(args.single[1]), args.dim, args.device)))
        return
    print(f"AFCL forward+backward, D={args.dim}, device={args.device}; median time of interleaved runs, peak memory per fresh process")
    print(f"{'B':>6} {'library ms':>11} {'authors ms':>11} {'library MiB':>12} {'authors MiB':>12}")
    for b in args.batch_sizes:
        mem = {}
        for impl in ("library", "authors"):
            out = subprocess.run(
                [sys.executable, __file__, "--single", impl, str(b), "--dim", str(args.dim), "--device", args.device],
                capture_output=True, text=True, check=True,
            )
            mem[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        ms = interleaved_times(b, args.dim, args.device, args.reps)
        print(f"{b:>6} {ms['library']:>11.1f} {ms['authors']:>11.1f} {mem['library']:>12.1f} {mem['authors']:>12.1f}")


if __name__ == "__main__":
    main()
