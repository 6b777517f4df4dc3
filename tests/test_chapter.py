"""The chapter helper: the notebooks' one way to build configs, run them and show figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from imbalanced_contrastive.chapter import Chapter, comparison_frame, summary_frame  # noqa: E402


def test_settings_are_shared_and_none_keeps_the_profile(tmp_path):
    chapter = Chapter("demo", "smoke", "fmnist", tmp_path, epochs=None, seed=3, temperature=0.2)
    config = chapter.config("supcon", queue_per_class=None)
    assert config.seed == 3 and config.loss_params["temperature"] == 0.2 and config.epochs == 1
    assert chapter.config("supcon", temperature=0.5).loss_params["temperature"] == 0.5
    assert (tmp_path / "figures" / "demo").is_dir()


def test_wrong_profile_or_dataset_fails_first(tmp_path):
    with pytest.raises(ValueError, match="profile must be one of"):
        Chapter("demo", "fast", output_dir=tmp_path)
    with pytest.raises(ValueError, match=r"dataset must be one of \('isic2018', 'dermamnist'\) in this chapter"):
        Chapter("demo", "smoke", "fmnist", tmp_path, datasets=("isic2018", "dermamnist"))


def test_figure_is_saved_and_shown_with_caption_and_alt(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    shown_value = Chapter("demo", "smoke", output_dir=tmp_path).figure(
        fig, "line.png", caption="A line.", alt="A rising line"
    )
    assert shown_value is None, "a figure helper returns nothing that a notebook would print under the figure"
    assert (tmp_path / "figures" / "demo" / "line.png").stat().st_size > 1000
    html = shown[0]["text/html"]
    assert 'alt="A rising line"' in html and "<figcaption>A line.</figcaption>" in html and shown[0]["image/png"]
    with pytest.raises(ValueError, match="caption"):
        Chapter("demo", "smoke", output_dir=tmp_path).figure(plt.figure(), "x.png", caption=" ")


def test_summary_frame():
    rows = [
        {
            "method": "ce",
            "settings": "–",
            "seeds": [0, 1],
            "accuracy_mean": 0.5,
            "accuracy_std": 0.01,
            "balanced_accuracy_mean": 0.4,
            "balanced_accuracy_std": None,
            "many_mean": None,
            "many_std": None,
            "medium_mean": 0.3,
            "medium_std": 0.02,
            "few_mean": 0.1,
            "few_std": 0.0,
        }
    ]
    table = summary_frame(rows)
    frame = table.frame
    assert list(frame.columns) == ["seeds", "balanced acc. %", "few %", "medium %", "accuracy %"]
    assert frame.loc["ce", "accuracy %"] == "50.0 ± 1.0" and frame.loc["ce", "balanced acc. %"] == "40.0"
    assert any(n.startswith("many % is left out") for n in table.notes)


def test_comparison_frame_reports_differences_and_verdicts():
    def row(method, bal, few):
        return {
            "method": method,
            "settings": "–",
            "seeds": [0, 1, 2],
            "dataset": "fmnist",
            "imbalance": "step",
            "ratio": 10.0,
            "profile": "quick",
            "balanced_accuracy_mean": bal,
            "balanced_accuracy_std": 0.01,
            "few_mean": few,
            "few_std": 0.01,
        }

    frame = comparison_frame([row("ce", 0.67, 0.27), row("bcl", 0.76, 0.50), row("focal", 0.675, 0.275)], "ce").frame
    assert list(frame.index) == ["bcl", "focal"]
    assert frame.loc["bcl", "few vs ce"].startswith("+23.0 (above, Holm p")
    assert frame.loc["focal", "balanced acc. vs ce"].startswith("+0.5 (within noise")
