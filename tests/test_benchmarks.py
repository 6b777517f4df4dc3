"""The benchmark script of the quick book runs and prints its tables (in the smoke profile: tests
never depend on the quick profile or on timings)."""

from __future__ import annotations

import importlib.util

from conftest import REPO


def _quick_book():
    spec = importlib.util.spec_from_file_location("quick_book", REPO / "benchmarks" / "quick_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_the_notebooks_command_is_timed(real_fmnist_dir, capsys):
    assert _quick_book().main(["--notebooks", "10_entropy_axioms.ipynb", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "the notebooks command (smoke profile" in out and "10_entropy_axioms.ipynb" in out
    assert "papermill start-up of an empty notebook" in out and "total" in out
