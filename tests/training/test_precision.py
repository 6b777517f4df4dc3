"""Mixed precision follows the device's capability: bf16 on CUDA >= 8.0, fp16 with gradient scaling
on older GPUs (Colab's T4), full precision on the CPU; the choice is recorded in the run record."""

from __future__ import annotations

import pytest
import torch

from imbalanced_contrastive.training.device import autocast, choose_precision, grad_scaler

CUDA = torch.device("cuda", 0)


@pytest.mark.parametrize(
    "capability, expected",
    [((7, 5), "fp16"), ((7, 0), "fp16"), ((6, 1), "fp16"), ((8, 0), "bf16"), ((8, 6), "bf16"), ((9, 0), "bf16")],
    ids=["T4", "V100", "P100", "A100", "RTX30", "H100"],
)
def test_precision_by_cuda_capability(capability, expected, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert choose_precision(CUDA) == expected
    assert choose_precision(CUDA, amp=False) == "fp32"


def test_cpu_and_mps_train_in_full_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: pytest.fail("not a CUDA device"))
    assert choose_precision(torch.device("cpu")) == "fp32"
    assert choose_precision(torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="amp must be True or False"):
        choose_precision(torch.device("cpu"), amp="maybe")


def test_gradient_scaling_only_for_fp16():
    cpu = torch.device("cpu")
    assert grad_scaler(cpu, "fp16").is_enabled()
    assert not grad_scaler(cpu, "bf16").is_enabled() and not grad_scaler(cpu, "fp32").is_enabled()


def test_autocast_dtype_follows_the_precision():
    cpu = torch.device("cpu")
    with autocast(cpu, "bf16"):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    with autocast(cpu, "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast(cpu, "fp8")


def test_run_record_names_its_precision(tmp_path, real_fmnist_dir):
    from imbalanced_contrastive.training import make_config, run_experiment

    record = run_experiment(make_config("ce", "smoke", epochs=1), runs_root=tmp_path, progress=False)
    assert record.provenance["precision"] == "fp32"
