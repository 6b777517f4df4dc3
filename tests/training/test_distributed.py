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


@pytest.mark.slow
@pytest.mark.parametrize("loss_name", ["supcon", "afcl"])
def test_ddp_loss_and_gradients_equal_single_process(tmp_path, loss_name):
    mp.start_processes(
        _ddp_worker,
        args=(2, str(tmp_path / "init"), str(tmp_path), loss_name),
        nprocs=2,
        join=True,
        start_method="spawn",
    )
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
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        CI="true",
        IMBALANCED_CONTRASTIVE_DATA=data_env,
    )
    torch.set_num_threads(1)
    from imbalanced_contrastive.training import make_config, run_experiment

    try:
        run_experiment(make_config("rescom", "smoke", batch_size=16), runs_root=runs_root, cache=False)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_smoke_run_under_two_processes(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.records import RunRecord
    from imbalanced_contrastive.training import make_config

    mp.start_processes(
        _torchrun_like,
        args=(2, _free_port(), str(tmp_path), str(tmp_path / "cache")),
        nprocs=2,
        join=True,
        start_method="spawn",
    )
    record = RunRecord.load(tmp_path / make_config("rescom", "smoke", batch_size=16).cache_key())
    assert record.config["world_size"] == 2
    assert 0.0 <= record.metrics["balanced_accuracy"] <= 1.0
    assert F.normalize(torch.from_numpy(record.embeddings), dim=1).shape[0] == 100


# --- the training loop under DDP: augmentation and train-mode BatchNorm ----------------------------

DDP_N = 16


def _loop_splits():
    from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset

    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (DDP_N, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.tensor([0, 1, 2, 3] * (DDP_N // 4))
    names = ["a", "b", "c", "d"]
    return DataSplits(
        ImageArrayDataset(images, labels, names, "fmnist"), ImageArrayDataset(images, labels, names, "fmnist")
    )


class _Recorder(torch.nn.Module):
    """A ContrastiveTask that keeps the views of its last step."""

    def __init__(self, task):
        super().__init__()
        self.task = task

    def forward(self, views, labels):
        self.views, self.labels = views.detach().clone(), labels.clone()
        return self.task(views, labels)


def _loop_task():
    from imbalanced_contrastive.losses import get_loss
    from imbalanced_contrastive.models import build_encoder
    from imbalanced_contrastive.training.tasks import ContrastiveTask

    torch.manual_seed(0)
    return _Recorder(ContrastiveTask(build_encoder("small_cnn", 1, width=8), get_loss("supcon", temperature=0.1), 16))


def _fit_one_step(dist_info):
    """One training step of the loop (the whole set is one global batch) with lr 0: the gradients stay."""
    from imbalanced_contrastive.data.views import named_augmentation
    from imbalanced_contrastive.training.loop import LoopConfig, fit

    recorder = _loop_task()
    recorder.train()  # BatchNorm in training mode: batch statistics
    loop = LoopConfig(epochs=1, batch_size=DDP_N, seed=11, n_views=2, progress=False, eval_every=None)
    fit(
        recorder,
        _loop_splits(),
        torch.optim.SGD(recorder.parameters(), lr=0.0),
        loop,
        torch.device("cpu"),
        augment=named_augmentation("strong", "fmnist"),
        dist_info=dist_info,
    )
    return recorder


def _loop_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    from imbalanced_contrastive.training.distributed import DistInfo

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        recorder = _fit_one_step(DistInfo(rank, world, rank))
        grads = {n: p.grad.clone() for n, p in recorder.task.named_parameters() if p.grad is not None}
        torch.save(
            {"views": recorder.views, "labels": recorder.labels, "grads": grads},
            os.path.join(out_dir, f"loop-rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_training_step_equals_the_single_process_global_batch(tmp_path):
    """Each rank's views are its slice of the single-process run's views (drawn for the global
    batch), and the DDP-averaged gradients equal the gradient of the global loss.

    BatchNorm in training mode normalises each rank's shard with that shard's statistics, as in the
    papers' code (the opt-in ``sync_batchnorm`` uses the global batch's, on CUDA only: PyTorch's
    SyncBatchNorm has no CPU kernel), so the reference runs the encoder shard by shard on the
    single-process views and computes the loss of the whole global batch.
    """
    from imbalanced_contrastive.training.distributed import DistInfo

    world = 2
    mp.start_processes(
        _loop_worker, args=(world, str(tmp_path / "init"), str(tmp_path)), nprocs=world, join=True, start_method="spawn"
    )
    single = _fit_one_step(DistInfo())  # the single process: its views of the whole global batch
    views, labels = single.views, single.labels
    reference = _loop_task().task
    reference.train()
    share = DDP_N // world
    z = []
    for r in range(world):
        h = reference.encoder(views[r * share : (r + 1) * share].flatten(0, 1)).view(share, 2, -1)
        z.append(reference.head(h.flatten(0, 1)).view(share, 2, -1).float())
    reference.loss(torch.cat(z), labels).backward()
    for rank in range(world):
        got = torch.load(tmp_path / f"loop-rank{rank}.pt", weights_only=True)
        assert torch.equal(got["views"], views[rank * share : (rank + 1) * share]), f"rank {rank}: views differ"
        assert torch.equal(got["labels"], labels[rank * share : (rank + 1) * share])
        for name, p in reference.named_parameters():
            if p.grad is not None:
                torch.testing.assert_close(
                    got["grads"][name], p.grad, rtol=1e-4, atol=1e-6, msg=f"rank {rank}: gradient of {name}"
                )


def test_uneven_shards_and_sync_batchnorm_off_cuda_are_refused():
    from imbalanced_contrastive.training.distributed import DistInfo
    from imbalanced_contrastive.training.loop import LoopConfig, fit

    recorder = _loop_task()
    splits = _loop_splits()
    opt = torch.optim.SGD(recorder.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="at least one global batch"):
        fit(
            recorder,
            splits,
            opt,
            LoopConfig(epochs=1, batch_size=2 * DDP_N, n_views=2, progress=False),
            torch.device("cpu"),
            dist_info=DistInfo(0, 2, 0),
        )
    with pytest.raises(ValueError, match="divisible by the world size"):
        fit(
            recorder,
            splits,
            opt,
            LoopConfig(epochs=1, batch_size=9, n_views=2, progress=False),
            torch.device("cpu"),
            dist_info=DistInfo(0, 2, 0),
        )
    with pytest.raises(ValueError, match="sync_batchnorm=True needs CUDA"):
        fit(
            recorder,
            splits,
            opt,
            LoopConfig(epochs=1, batch_size=8, n_views=2, progress=False, sync_batchnorm=True),
            torch.device("cpu"),
            dist_info=DistInfo(0, 2, 0),
        )


def _resume_worker(rank: int, world: int, init_file: str, ckpt_dir: str) -> None:
    import warnings

    from imbalanced_contrastive.training.distributed import DistInfo
    from imbalanced_contrastive.training.loop import LoopConfig, fit

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        recorder = _loop_task()
        loop = LoopConfig(epochs=1, batch_size=DDP_N, seed=11, n_views=2, progress=False, eval_every=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fit(
                recorder,
                _loop_splits(),
                torch.optim.SGD(recorder.parameters(), lr=0.0),
                loop,
                torch.device("cpu"),
                checkpoint_dir=ckpt_dir,
                dist_info=DistInfo(rank, world, rank),
            )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_rank_zero_alone_moves_a_corrupt_checkpoint_aside(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "checkpoint.pt").write_bytes(b"not a checkpoint")
    mp.start_processes(
        _resume_worker, args=(2, str(tmp_path / "init"), str(ckpt)), nprocs=2, join=True, start_method="spawn"
    )
    assert len(list(ckpt.glob("checkpoint.pt.corrupt-*"))) == 1
    assert torch.load(ckpt / "checkpoint.pt", weights_only=True)["epoch"] == 0
