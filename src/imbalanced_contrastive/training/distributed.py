"""``torchrun`` support: process group set-up, a gradient-keeping all-gather, metric reduction.

Under ``torchrun --nproc_per_node=N`` every rank takes its slice of each global batch (the batch
order is a pure function of the seed, so no sampler is needed), contrastive losses see the
features of all ranks through :func:`gather_with_grad`, the ResCom queue gathers keys from every
rank before a push, and the epoch loss is averaged across ranks. On a single process every
function here is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (0, 1, 0 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env(device_type: str) -> tuple[DistInfo, bool]:
    """Initialise the process group when launched by ``torchrun`` (``WORLD_SIZE > 1``).

    Uses NCCL on CUDA and gloo otherwise; a group that is already initialised is reused.

    Returns:
        ``(info, created)``: the rank and world size, and whether this call created the group
        (then :func:`shutdown` destroys it at the end of the run).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), False
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))), created


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (``[b, ...]``) from all ranks along dim 0, keeping gradients.

    Every rank then computes the loss of the global batch; the backward of the gather sums the
    gradients of all ranks into each rank's slice, and DDP's gradient averaging turns that into
    the gradient of the global loss.
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x.contiguous())


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every rank's gradient of the gathered tensor and
    returns this rank's slice (all-reduce + slice: works with gloo and NCCL alike)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        ctx.rank, ctx.size = rank, x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.size : (ctx.rank + 1) * ctx.size]


def gather_labels(y: torch.Tensor) -> torch.Tensor:
    """Concatenate labels from all ranks (no gradient)."""
    if not is_distributed():
        return y
    parts = [torch.empty_like(y) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, y.contiguous())
    return torch.cat(parts)


def sum_across_ranks(x: torch.Tensor) -> torch.Tensor:
    """``x`` summed over all ranks (one all-reduce; ``x`` itself on a single process)."""
    if not is_distributed():
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x


def min_across_ranks(x: torch.Tensor) -> torch.Tensor:
    """The elementwise minimum of ``x`` over all ranks (``x`` itself on a single process)."""
    if not is_distributed():
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.MIN)
    return x


def broadcast_from_main(value: bool) -> bool:
    """Rank 0's ``value`` on every rank (``value`` itself on a single process): how rank 0's
    decisions, such as whether a checkpoint can be resumed, reach the other ranks."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def shutdown(created: bool) -> None:
    """Destroy the process group at the end of a run, if this process created it
    (:func:`init_from_env` returned ``created=True``)."""
    if created and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
