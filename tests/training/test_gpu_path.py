"""The CUDA path, checked without a GPU.

* Mixed precision: CPU autocast casts matmuls and convolutions to fp16/bf16 as CUDA autocast does;
  one smoke epoch of every method trains in fp16 with gradient scaling (Colab's T4) and in bf16
  (A100/H100) to a finite loss, with a first-step loss within 1 % of fp32's.
* On a fake CUDA device (``tests/fakecuda.py``): no loss computes a matmul in fp16/bf16 under
  autocast, and no loss or queue push synchronises the host.
* A whole training step of every recipe, counted on the ``meta`` device: at most 2 host
  synchronisations per step (the loop reads its accumulators once per epoch).
* Divergence raises ``FloatingPointError`` from the on-device flag, naming the epoch and step.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fakecuda import SyncCounter, fake, fake_cuda
from torch.utils._python_dispatch import TorchDispatchMode

from imbalanced_contrastive.data.dataset import DataSplits, ImageArrayDataset
from imbalanced_contrastive.data.views import apply_views, make_views, to_float
from imbalanced_contrastive.losses import ClassBalancedQueue, get_loss
from imbalanced_contrastive.training import make_config
from imbalanced_contrastive.training.device import autocast, choose_precision, deterministic_mode, select_device
from imbalanced_contrastive.training.loop import LoopConfig, fit, plan_epoch
from imbalanced_contrastive.training.recipes import METHODS, make_sgd, recipe_of
from imbalanced_contrastive.training.runner import splits_for

ALL_METHODS = list(METHODS)
META = torch.device("meta")
CPU = torch.device("cpu")


def _synthetic_splits(n: int = 64, classes: int = 10, seed: int = 0) -> DataSplits:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % classes
    names = [f"class {c}" for c in range(classes)]
    return DataSplits(
        ImageArrayDataset(images, labels, names, "fmnist"), ImageArrayDataset(images[:20], labels[:20], names, "fmnist")
    )


# --- mixed precision, emulated on the CPU -------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_splits(real_fmnist_dir):
    return splits_for(make_config("ce", "smoke"))


@pytest.fixture(scope="module")
def small_splits(smoke_splits):
    """Twelve training images of every class of the smoke splits: three steps of the smoke batch (fp16
    on the CPU is slow to emulate)."""
    labels = smoke_splits.train.labels
    keep = torch.cat([torch.nonzero(labels == c).flatten()[:12] for c in range(smoke_splits.num_classes)])
    return DataSplits(smoke_splits.train.subset(keep), smoke_splits.test)


def _first_step_loss(method: str, splits: DataSplits, precision: str) -> float:
    config = make_config(method, "smoke")
    recipe = recipe_of(method)
    torch.manual_seed(0)
    task = recipe.build_task(config, [int(c) for c in splits.class_counts], CPU)
    task.train()
    x = to_float(splits.train.images[:32], "fmnist")
    views = make_views(x, recipe.n_views, recipe.augment(config), torch.Generator().manual_seed(0))
    with autocast(CPU, precision):
        loss = task(views, splits.train.labels[:32])["loss"]
    assert loss.dtype == torch.float32, f"{method}: the loss is {loss.dtype} under {precision} autocast"
    return float(loss.detach())


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_trains_in_half_precision(method, precision, smoke_splits, small_splits):
    """fp16 + GradScaler (T4, V100) and bf16 (A100, H100), as CUDA autocast casts them."""
    reference = _first_step_loss(method, smoke_splits, "fp32")
    low = _first_step_loss(method, smoke_splits, precision)
    assert abs(low - reference) <= 0.01 * abs(reference), f"{method} {precision}: {low} against fp32 {reference}"
    config = make_config(method, "smoke")
    recipe = recipe_of(method)
    torch.manual_seed(0)
    task = recipe.build_task(config, [int(c) for c in small_splits.class_counts], CPU)
    loop = LoopConfig(
        epochs=1, batch_size=config.batch_size, seed=0, n_views=recipe.n_views, progress=False, eval_every=None
    )
    history = fit(
        task,
        small_splits,
        make_sgd(task.parameters(), config, config.lr),
        loop,
        CPU,
        augment=recipe.augment(config),
        precision=precision,
    )
    assert torch.isfinite(torch.tensor(history[-1]["loss"])), f"{method} {precision}: {history[-1]}"


# --- losses on a fake CUDA device -----------------------------------------------------------------


class _MatmulDtypes(TorchDispatchMode):
    """Records the input dtypes of every matrix product."""

    PRODUCTS = ("mm", "addmm", "bmm", "baddbmm", "matmul", "_scaled_mm", "addmv", "mv", "dot")

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.PRODUCTS:
            self.dtypes.update(a.dtype for a in args if torch.is_tensor(a))
        return func(*args, **(kwargs or {}))


def _loss_inputs(name: str, b: int = 16, dim: int = 8, classes: int = 4):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(b) % classes
    if name in ("ce", "focal", "la_ce", "balanced_softmax"):
        return (torch.randn(b, classes, generator=g), labels), {}
    if name == "siamese_balanced_softmax":
        return (torch.randn(b, 2, classes, generator=g), labels), {}
    features = F.normalize(torch.randn(b, 2, dim, generator=g), dim=-1)
    if name in ("bcl", "rcl"):
        return (features, labels, F.normalize(torch.randn(classes, dim, generator=g), dim=-1)), {}
    if name == "rescom":
        return (features, labels), {"queue": ClassBalancedQueue(classes, 4, dim, seed=0)}
    return (features, labels), {}


LOSSES = [
    "supcon",
    "cl",
    "fcl",
    "acl",
    "afcl",
    "bcl",
    "rcl",
    "rescom",
    "ce",
    "focal",
    "la_ce",
    "balanced_softmax",
    "siamese_balanced_softmax",
]


def _build_loss(name: str):
    params = (
        {"class_counts": [50, 20, 10, 5]}
        if name in ("rcl", "rescom", "la_ce", "balanced_softmax", "siamese_balanced_softmax")
        else {}
    )
    if name == "rescom":
        params["hard_negatives"] = 8
    if name in ("fcl", "afcl"):
        params["gamma"] = 2.0
    if name in ("acl", "afcl"):
        params["eta"] = 100.0
    return get_loss(name, **params)


@pytest.mark.parametrize("capability, half", [((7, 5), torch.float16), ((9, 0), torch.bfloat16)], ids=["T4", "H100"])
@pytest.mark.parametrize("name", LOSSES)
def test_losses_on_fake_cuda_are_full_precision_and_sync_free(name, capability, half):
    args, kwargs = _loss_inputs(name)
    loss_fn = _build_loss(name)
    with fake_cuda(capability) as mode:
        for buffer_name, buffer in list(loss_fn.named_buffers()):
            module = loss_fn.get_submodule(buffer_name.rpartition(".")[0]) if "." in buffer_name else loss_fn
            module._buffers[buffer_name.rpartition(".")[2]] = fake(mode, buffer)
        cuda_args = [fake(mode, a).to(half) if a.is_floating_point() else fake(mode, a) for a in args]
        cuda_kwargs = {}
        if "queue" in kwargs:
            queue = kwargs["queue"]
            for buffer_name, buffer in list(queue.named_buffers()):
                queue._buffers[buffer_name] = fake(mode, buffer)
            cuda_kwargs["queue"] = queue
        products, counter = _MatmulDtypes(), SyncCounter()
        with counter, products, torch.autocast("cuda", dtype=half):
            loss = loss_fn(*cuda_args, **cuda_kwargs)
            if "queue" in cuda_kwargs:
                cuda_kwargs["queue"].push(cuda_args[0][:, 0].float(), cuda_args[1])
        assert loss.device.type == "cuda" and loss.dtype == torch.float32
        assert not products.dtypes & {torch.float16, torch.bfloat16}, f"{name}: half-precision matmul {products.dtypes}"
        assert counter.total == 0, f"{name}: host synchronisations {dict(counter.events)}"


# --- a whole step of every recipe, counted on the meta device ---------------------------------------


def _syncs(method: str, steps: int) -> SyncCounter:
    config = make_config(method, "smoke")
    recipe = recipe_of(method)
    splits = _synthetic_splits()
    torch.manual_seed(0)
    task = recipe.build_task(config, [int(c) for c in splits.class_counts], META)
    loop = LoopConfig(
        epochs=1, batch_size=len(splits.train) // steps, seed=0, n_views=recipe.n_views, progress=False, eval_every=None
    )
    counter = SyncCounter()
    with counter:
        fit(task, splits, make_sgd(task.parameters(), config, 0.1), loop, META, augment=recipe.augment(config))
    return counter


@pytest.mark.parametrize("method", ["ce", "focal", "balanced_softmax", "supcon", "afcl", "bcl", "rcl", "rescom"])
def test_a_training_step_synchronises_at_most_twice(method):
    """Every recipe (and each loss family); the per-epoch read-back and uploads cancel out."""
    two, four = _syncs(method, 2), _syncs(method, 4)
    per_step = (four.total - two.total) / 2
    assert per_step <= 2, f"{method}: {per_step} per step; 4 steps {dict(four.events)}, 2 steps {dict(two.events)}"
    # and the epoch itself: its uploads (images, labels, batch order, views) and one read-back
    assert four.events["copy meta -> cpu"] == 1, dict(four.events)


def test_fused_optimizer_on_cuda_takes_the_scalers_flag_without_a_sync():
    """GradScaler.step reads ``found_inf`` on the host unless the optimiser supports AMP scaling
    (the fused kernels do); the recipes pick fused SGD for CUDA parameters."""
    config = make_config("ce", "smoke")
    with fake_cuda() as mode:
        param = torch.nn.Parameter(fake(mode, torch.zeros(3)))
        optimizer = make_sgd([param], config, 0.1)
    assert optimizer.defaults["fused"] and getattr(optimizer, "_step_supports_amp_scaling", False)
    assert not make_sgd([torch.nn.Parameter(torch.zeros(3))], config, 0.1).defaults.get("fused")


# --- views and batches: one upload per epoch, the same on every device and world size -------------


def test_planned_views_equal_the_views_drawn_one_at_a_time(smoke_splits):
    """The loop's pre-drawn views are the views the former per-step generator gave (CPU runs keep
    their results), and each rank of a world takes its slice of the global batch's views."""
    from imbalanced_contrastive.training.device import derive_seed
    from imbalanced_contrastive.training.distributed import DistInfo
    from imbalanced_contrastive.training.loop import fixed_batches

    config = make_config("afcl", "smoke")
    augment = recipe_of("afcl").augment(config)
    loop = LoopConfig(epochs=1, batch_size=16, seed=3, n_views=2, progress=False)
    plan = plan_epoch(len(smoke_splits.train), loop, 0, augment, CPU)
    gen = torch.Generator().manual_seed(derive_seed(3, 0, 2))
    images = smoke_splits.train.images
    for step, idx in enumerate(fixed_batches(len(images), 16, 3, 0)):
        x = to_float(images[idx], "fmnist")
        expected = make_views(x, 2, augment, gen)
        got_idx, params = plan.batch(step, DistInfo())
        assert torch.equal(got_idx, idx)
        assert torch.equal(apply_views(x, augment, params, 2), expected)
        for rank in (0, 1):
            part_idx, part_params = plan.batch(step, DistInfo(rank=rank, world_size=2))
            half = slice(rank * 8, (rank + 1) * 8)
            assert torch.equal(part_idx, idx[half])
            assert torch.equal(
                apply_views(to_float(images[part_idx], "fmnist"), augment, part_params, 2), expected[half]
            )


# --- divergence, devices, determinism -----------------------------------------------------------


class _Diverging(torch.nn.Module):
    """A task whose loss turns NaN from its third step (no loss input check can see it)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, views, labels):
        self.calls += 1
        bad = torch.tensor(float("nan") if self.calls >= 3 else 1.0)
        return {"loss": self.w * bad + views.float().mean() * 0}


def test_divergence_raises_with_its_epoch_and_first_bad_step(tmp_path):
    splits = _synthetic_splits()
    task = _Diverging()
    loop = LoopConfig(epochs=2, batch_size=8, seed=0, progress=False, eval_every=None)
    with pytest.raises(FloatingPointError, match=r"epoch 1: the loss is non-finite at 6 of 8 steps, first at step 3"):
        fit(task, splits, torch.optim.SGD(task.parameters(), lr=0.1), loop, CPU, checkpoint_dir=tmp_path)
    assert not (tmp_path / "checkpoint.pt").exists(), "a diverged epoch must not be checkpointed"


def test_auto_never_picks_mps_and_mps_is_refused(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == CPU
    with pytest.raises(ValueError, match="mps.*float64"):
        select_device("mps")


def test_precision_and_device_type_are_in_the_cache_key(monkeypatch):
    cpu_key = make_config("afcl", "smoke").cache_key()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    fp16_key = make_config("afcl", "smoke", amp=True).cache_key()
    fp32_cuda_key = make_config("afcl", "smoke", amp=False).cache_key()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    bf16_key = make_config("afcl", "smoke", amp=True).cache_key()
    assert len({cpu_key, fp16_key, fp32_cuda_key, bf16_key}) == 4
    assert choose_precision(torch.device("cuda"), True) == "bf16"


def test_deterministic_mode_is_selected_and_restored(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        import os

        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled() == before
    with pytest.raises(ValueError, match="deterministic must be True or False"):
        with deterministic_mode("yes"):
            pass
    with pytest.raises(ValueError, match="deterministic must be True or False"):
        make_config("ce", "smoke", deterministic="yes")
