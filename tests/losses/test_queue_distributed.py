"""Two processes with the gloo backend on CPU: after a push both ranks hold the same queue."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from imbalanced_contrastive.losses import ClassBalancedQueue

        queue = ClassBalancedQueue(num_classes=3, per_class=4, dim=2, seed=0)
        feats = torch.tensor([[10.0 * rank + i, float(rank)] for i in range(3)])
        queue.push(feats, torch.tensor([0, 1, 0]))
        torch.save({"keys": queue.keys(), "pointer": queue.pointer}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_queue_is_identical_on_both_ranks(tmp_path):
    mp.start_processes(
        _worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True, start_method="spawn"
    )
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert torch.equal(r0["keys"], r1["keys"]) and torch.equal(r0["pointer"], r1["pointer"])
    assert r0["pointer"].tolist() == [0, 2, 0]  # class 0 got 4 keys (2 per rank), class 1 got 2
    block0 = r0["keys"][:4]
    torch.testing.assert_close(block0, torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0]]))
