"""The benchmark script of the quick book runs and prints its tables (in the smoke profile: tests
never depend on the quick profile or on timings)."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import REPO


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quick_book():
    return _script("quick_book")


@pytest.mark.slow
def test_runs_are_profiled_phase_by_phase(real_fmnist_dir, tmp_path):
    quick_book = _quick_book()
    for method in ("ce", "cl"):
        row = quick_book.profile_run(method, 0, tmp_path, {}, profile="smoke")
        phases = {k: row[k] for k in quick_book.PHASES}
        assert all(v >= 0 for v in phases.values()) and phases["backward"] > 0 and phases["data"] > 0
        assert phases["views"] > 0 and phases["final"] > 0 and phases["umap"] > 0
        assert row["total"] >= sum(v for k, v in phases.items() if k != "umap"), "the phases lie within the run"
        assert (phases["stage2"] > 0) == (method == "cl"), "only the two-stage recipe has a stage 2"
        assert phases["eval"] == 0, "no test evaluation during training by default"
        assert 0 <= row["balanced"] <= 100


def test_the_runs_table_is_printed(real_fmnist_dir, capsys):
    quick_book = _quick_book()
    assert quick_book.main(["--runs", "--profile", "smoke", "--methods", "ce", "--seeds", "0", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("method"))
    assert header.split() == ["method", "seed", *quick_book.PHASES, "run", "bal.acc", "few"]
    rows = [line.split() for line in out.splitlines() if line.startswith("ce ")]
    assert [r[:2] for r in rows if len(r) == len(header.split())] == [["ce", "0"], ["ce", "1"]]
    assert "balanced acc %" in out and "few recall %" in out  # the summary over seeds


@pytest.mark.slow
def test_the_notebooks_command_is_timed(real_fmnist_dir, capsys, monkeypatch):
    """The timing around the notebooks command: papermill's start-up is measured on a real kernel;
    the command itself is build_book's execute_notebooks, which the books of the suite run (so here
    it only records what it was asked, instead of executing the entropy chapter once more)."""
    import build_book

    asked = []
    monkeypatch.setattr(build_book, "execute_notebooks", lambda profile, **kw: asked.append((profile, kw["names"])))
    assert _quick_book().main(["--notebooks", "10_entropy_axioms.ipynb", "--profile", "smoke"]) == 0
    assert asked == [("smoke", ["10_entropy_axioms.ipynb"])]
    out = capsys.readouterr().out
    assert "the notebooks command (smoke profile" in out and "10_entropy_axioms.ipynb" in out
    assert "papermill start-up of an empty notebook" in out and "total" in out


@pytest.mark.slow
def test_the_device_check_rehearses_on_the_cpu(real_fmnist_dir, tmp_path):
    """``benchmarks/device_check.py --dry-run``: the GPU session's one command, on the CPU."""
    import json
    import subprocess
    import sys

    out = tmp_path / "device_check.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "device_check.py"),
            "--dry-run",
            "--methods",
            "ce",
            "afcl",
            "--steps",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())
    assert summary["ok"] and summary["dry_run"] and summary["methods"] == ["ce", "afcl"]
    assert set(summary["sync"]) == {"ce/fp32", "afcl/fp32"}
    assert set(summary["precision"]) == {f"{m}/{p}" for m in ("ce", "afcl") for p in ("fp16", "bf16")}
    assert all(v["relative_difference"] <= 0.01 for v in summary["precision"].values())
    assert summary["resume"]["identical"] == {"metrics": True, "epoch_losses": True, "embeddings": True}
    assert all(v["images_per_second"] > 0 for v in summary["throughput"].values())
    assert "device check passed" in done.stdout


def test_the_device_check_refuses_a_machine_without_cuda(monkeypatch, capsys):
    import pytest

    spec = importlib.util.spec_from_file_location("device_check", REPO / "benchmarks" / "device_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.main(["--methods", "ce"])
    assert "no CUDA device" in capsys.readouterr().err


def test_make_device_check_runs_the_script():
    makefile = (REPO / "Makefile").read_text()
    rule = makefile.split("\ndevice-check:")[1].split("\n\n")[0]
    assert "benchmarks/device_check.py" in rule and "--dry-run" in rule and "$(OUT)/device_check.json" in rule


def test_the_loss_benchmark_compares_each_loss_with_its_own_formula():
    """``benchmarks/losses.py`` times the library against dense formulas: they must compute the same loss."""
    import torch

    spec = importlib.util.spec_from_file_location("losses_benchmark", REPO / "benchmarks" / "losses.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.LOSSES:
        z0, library, dense = module.implementations(name, 64, 16, torch.device("cpu"))
        torch.testing.assert_close(library(z0).float(), dense(z0).float(), rtol=1e-4, atol=1e-5, msg=name)


def test_the_committed_costs_table_is_the_records():
    """``benchmarks/README.md``'s table of what each committed run costs is what
    ``benchmarks/committed_costs.py`` computes from the committed records now."""
    committed_costs = _script("committed_costs")
    text = (REPO / "benchmarks" / "README.md").read_text()
    start, end = text.index(committed_costs.START), text.index(committed_costs.END)
    shown = text[start + len(committed_costs.START) : end].strip()
    assert shown == committed_costs.cost_table(REPO / "results"), (
        "benchmarks/README.md's cost table is out of date: paste the output of "
        "`python benchmarks/committed_costs.py` between its markers"
    )
