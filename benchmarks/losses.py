"""Forward+backward time (and, optionally, peak memory) of every contrastive loss: this library
against a dense reimplementation of the loss's formula (written from ``book/paper_specs.md``:
plain N x N matrices, masks multiplied in, ``-inf`` on the diagonal). Not a test: prints a table.

    python benchmarks/losses.py                        # every loss, B in {256, 1024, 4096}, D = 128
    python benchmarks/losses.py --losses supcon afcl --batch-sizes 4096 --no-dense --json out.json
    PYTHONPATH=/path/to/an/older/checkout/src python benchmarks/losses.py --no-dense   # an older library

Features are ``[B, D]`` unit vectors (one view: ``N = B`` anchors) with 10 classes drawn at random;
BCL and RCL also get 10 prototypes, ResCom a class-balanced queue of 20 keys per class (its hard
mining included). Times are medians of runs that alternate between the implementations (so machine
noise hits both alike); peak memory (``--memory``, CUDA only: peak allocated) is measured in a fresh
subprocess per (implementation, loss, B). On the CPU no allocator statistic isolates one step
(the process's peak resident set is already set by importing torch), so none is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

CLASSES = 10
TAU = {"supcon": 0.07, "cl": 0.07, "fcl": 0.07, "acl": 0.07, "afcl": 0.07, "bcl": 0.1, "rcl": 0.1, "rescom": 0.2}
LOSSES = tuple(TAU)
COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]  # a long tail of ratio 100
QUEUE = 20


# --- dense formulas --------------------------------------------------------------------------------


def _eye(n: int, m: int, device) -> torch.Tensor:
    return torch.eye(n, m, dtype=torch.bool, device=device)


def dense_supcon(z, y, tau):
    """Khosla et al. Eq. 2 with tau_b = tau."""
    n = z.shape[0]
    logits = (z @ z.T / tau).masked_fill(_eye(n, n, z.device), float("-inf"))
    log_prob = logits.log_softmax(dim=1)
    pos = (y[:, None] == y[None, :]) & ~_eye(n, n, z.device)
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1).clamp(min=1))
    return per_anchor[pos.any(1)].mean()


def dense_afcl(z, y, tau, gamma, eta):
    """AFCL as the authors' code computes it (spec-acl-losses): bare exp, ``mean`` over columns."""
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


def dense_bcl(z, y, prototypes, tau, scale=1.0, offset=None, margin=None):
    """BCL's class-averaged, class-complemented loss (spec-bcl-losses); RCL's additions when given."""
    n, c = z.shape[0], prototypes.shape[0]
    a = torch.cat([z, prototypes])
    a_labels = torch.cat([y, torch.arange(c, device=z.device)])
    same = y[:, None] == a_labels[None, :]
    logits = scale * z @ a.T / tau
    if margin is not None:
        logits = logits - same.float() * margin[y][:, None] / tau
    if offset is not None:
        logits = logits + offset[a_labels][None, :]
    self_mask = _eye(n, n + c, z.device)
    size = F.one_hot(a_labels, c).sum(0).float()[a_labels][None, :] - same.float()
    denominator = (logits - size.clamp(min=1).log()).masked_fill(self_mask, float("-inf")).logsumexp(1)
    pos = same & ~self_mask
    loss = denominator - logits.masked_fill(~pos, 0.0).sum(1) / pos.sum(1)
    return loss.mean()


def dense_rescom(z, y, keys, key_labels, tau, weights, hard_pos, hard_neg):
    """ResCom's class-balanced SupCon with hard queue mining (spec-rescom-losses)."""
    n = z.shape[0]
    batch = (z @ z.T / tau).masked_fill(_eye(n, n, z.device), float("-inf"))
    sims = z @ keys.T
    own = y[:, None] == key_labels[None, :]
    mined_pos = sims.masked_fill(~own, float("inf")).topk(hard_pos, dim=1, largest=False).values / tau
    mined_neg = sims.masked_fill(own, float("-inf")).topk(hard_neg, dim=1).values / tau
    logits = torch.cat([batch, mined_pos, mined_neg], dim=1)
    log_prob = logits.log_softmax(dim=1)
    pos = torch.cat(
        [
            (y[:, None] == y[None, :]) & ~_eye(n, n, z.device),
            torch.ones_like(mined_pos, dtype=torch.bool),
            torch.zeros_like(mined_neg, dtype=torch.bool),
        ],
        1,
    )
    per_anchor = -log_prob.masked_fill(~pos, 0.0).sum(1) / pos.sum(1)
    return (per_anchor * weights[y]).mean()


def parameters(name: str) -> dict:
    """The loss parameters the benchmark uses (the recipes' defaults; RCL and ResCom on a long tail)."""
    return {
        "supcon": {"base_temperature": TAU["supcon"]},
        "fcl": {"gamma": 2.0},
        "acl": {"eta": 100.0},
        "afcl": {"gamma": 2.0, "eta": 100.0},
        "rcl": {"class_counts": COUNTS, "feature_scale": 1.5**0.5, "margin": 0.1},
        "rescom": {"class_counts": COUNTS, "hard_negatives": 100},
    }.get(name, {})


# --- the two implementations of each loss ------------------------------------------------------------


def implementations(name: str, b: int, d: int, device: torch.device):
    """``(z0, library, dense)``: unit-norm features ``[b, d]`` and the two implementations of
    ``name`` as functions of the features (same labels, prototypes, queue and parameters)."""
    from imbalanced_contrastive.losses import ClassBalancedQueue, get_loss

    g = torch.Generator().manual_seed(0)
    z0 = F.normalize(torch.randn(b, d, generator=g), dim=-1).to(device)
    y = torch.randint(0, CLASSES, (b,), generator=g).to(device)
    prototypes = F.normalize(torch.randn(CLASSES, d, generator=g), dim=-1).to(device)
    tau = TAU[name]
    params = parameters(name)
    ours = get_loss(name, temperature=tau, **params).to(device)
    queue = ClassBalancedQueue(CLASSES, QUEUE, d, seed=0).to(device) if name == "rescom" else None

    def library(z):
        if name in ("bcl", "rcl"):
            return ours(z, y, prototypes)
        return ours(z, y, queue) if queue is not None else ours(z, y)

    def dense(z):
        if name == "supcon":
            return dense_supcon(z, y, tau)
        if name in ("cl", "fcl", "acl", "afcl"):
            return dense_afcl(z, y, tau, params.get("gamma", 0.0), params.get("eta", 0.0))
        if name == "bcl":
            return dense_bcl(z, y, prototypes, tau)
        if name == "rcl":
            counts = torch.tensor(COUNTS, dtype=torch.float32, device=device)
            return dense_bcl(
                z, y, prototypes, tau, scale=1.5, offset=counts.log(), margin=0.1 * (counts.min() / counts) ** 0.25
            )
        weights = ours.class_weights.float()
        return dense_rescom(z, y, queue.keys(), queue.labels(), tau, weights, 1, 100)

    return z0, library, dense


def _setup(impl: str, name: str, b: int, d: int, device: torch.device):
    z0, library, dense = implementations(name, b, d, device)
    fn = library if impl == "library" else dense

    def step() -> None:
        z = z0.clone().requires_grad_(True)
        fn(z).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def peak_memory(impl: str, name: str, b: int, d: int, device: str) -> float:
    """Peak CUDA memory (MiB) allocated by one forward+backward, measured in this (fresh) process."""
    dev = torch.device(device)
    step = _setup(impl, name, b, d, dev)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    step()
    return (torch.cuda.max_memory_allocated(dev) - base) / 2**20


def interleaved_times(name: str, b: int, d: int, device: str, reps: int, impls: tuple[str, ...]) -> dict[str, float]:
    """Median forward+backward time (ms) of each implementation, run alternately; at least ``reps``
    runs each and at least 2 s in all."""
    dev = torch.device(device)
    steps = {impl: _setup(impl, name, b, d, dev) for impl in impls}
    for step in steps.values():  # warm-up
        step()
    times: dict[str, list[float]] = {impl: [] for impl in steps}
    start = time.perf_counter()
    while len(times[impls[0]]) < reps or time.perf_counter() - start < 2.0:
        for impl, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[impl].append(time.perf_counter() - t0)
    return {impl: 1000 * statistics.median(t) for impl, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-dense", action="store_true", help="time the library only")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (a process per case)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--single", nargs=3, metavar=("IMPL", "LOSS", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory and not args.device.startswith("cuda"):
        parser.error("--memory needs a CUDA device (peak allocated memory); on the CPU no statistic isolates a step")
    if args.single:
        print(json.dumps(peak_memory(args.single[0], args.single[1], int(args.single[2]), args.dim, args.device)))
        return
    impls = ("library",) if args.no_dense else ("library", "dense")
    torch.set_num_threads(torch.get_num_threads())
    print(
        f"forward+backward, D={args.dim}, device={args.device}, {torch.get_num_threads()} threads; "
        "median ms of interleaved runs" + (", peak MiB per fresh process" if args.memory else "")
    )
    print(
        f"{'loss':<8} {'B':>6} "
        + " ".join(f"{impl + ' ms':>11}" for impl in impls)
        + ("".join(f" {impl + ' MiB':>12}" for impl in impls) if args.memory else "")
    )
    results = []
    for name in args.losses:
        for b in args.batch_sizes:
            ms = interleaved_times(name, b, args.dim, args.device, args.reps, impls)
            row = {"loss": name, "B": b, **{f"{impl}_ms": ms[impl] for impl in impls}}
            line = f"{name:<8} {b:>6} " + " ".join(f"{ms[impl]:>11.1f}" for impl in impls)
            if args.memory:
                for impl in impls:
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--single",
                            impl,
                            name,
                            str(b),
                            "--dim",
                            str(args.dim),
                            "--device",
                            args.device,
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row[f"{impl}_mib"] = json.loads(out.stdout.strip().splitlines()[-1])
                    line += f" {row[f'{impl}_mib']:>12.1f}"
            print(line, flush=True)
            results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
