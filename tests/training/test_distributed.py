"""Two processes with the gloo backend on CPU: a DDP step equals the single-process step on the
same global batch (loss and gradients), and a whole smoke run trains under a torchrun-like launch."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

GLOBAL_B = 8


def _task(loss_name: str):
    from imbalanced_contrastive.losses import get_loss
    from imbalanced_contrastive.models import build_encoder
    from imbalanced_contrastive.training.tasks import ContrastiveTask

    torch.manual_seed(0)
    params = {"gamma": 1.5, "eta": 100.0} if loss_name == "afcl" else {}
    task = ContrastiveTask(build_encoder("small_cnn", 1), get_loss(loss_name, temperature=0.1, **params), 16).double()
    task.eval()  # BatchNorm with running statistics: identical per-sample features on any split
    return task


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(GLOBAL_B, 2, 1, 12, 12, generator=g, dtype=torch.float64), torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str, loss_name: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from torch.nn.parallel import DistributedDataParallel

        task = _task(loss_name)
        model = DistributedDataParallel(task)
        views, labels = _batch()
        part = slice(rank * GLOBAL_B // world, (rank + 1) * GLOBAL_B // world)
        loss = model(views[part], labels[part])["loss"]
        loss.backward()
        grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
        torch.save({"loss": loss.detach(), "grads": grads}, os.path.join(out_dir, f"{loss_name}-rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("loss_name", ["supcon", "afcl"])
def test_ddp_loss_and_gradients_equal_single_process(tmp_path, loss_name):
    mp.start_processes(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path), loss_name), nprocs=2, join=True,
                       start_method="spawn")
    task = _task(loss_name)
    views, labels = _batch()
    loss = task(views, labels)["loss"]
    loss.backward()
    for rank in (0, 1):
        got = torch.load(tmp_path / f"{loss_name}-rank{rank}.pt", weights_only=True)
        torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-5, atol=1e-5)
        for name, p in task.named_parameters():
            if p.grad is not None:
                torch.testing.assert_close(got["grads"][name], p.grad, rtol=1e-5, atol=1e-7, msg=f"gradient of {name}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun_like(rank: int, world: int, port: int, runs_root: str, data_env: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), CI="true", IMBALANCED_CONTRASTIVE_DATA=data_env)
    torch.set_num_threads(1)
    from imbalanced_contrastive.training import make_config, run_experiment

    try:
        run_experiment(make_config("rescom", "smoke", batch_size=16), runs_root=runs_root, cache=False)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_smoke_run_under_two_processes(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.records import RunRecord
    from imbalanced_contrastive.training import make_config

    mp.start_processes(_torchrun_like, args=(2, _free_port(), str(tmp_path), str(tmp_path / "cache")), nprocs=2,
                       join=True, start_method="spawn")
    record = RunRecord.load(tmp_path / make_config("rescom", "smoke", batch_size=16).cache_key())
    assert record.config["world_size"] == 2
    assert 0.0 <= record.metrics["balanced_accuracy"] <= 1.0
    assert F.normalize(torch.from_numpy(record.embeddings), dim=1).shape[0] == 100
