"""Prose that is true in every profile, and a lecturer's layer.

The training chapters' typed Markdown explains and never reports a number about the chapter's own
runs (those are computed: :mod:`imbalanced_contrastive.findings`); every exercise has a solution
that answers it, with the measured outcome where it asks for a run; every chapter ends with
self-check questions; the front matter holds the lecturer's sections; the noise rule is one.
"""

from __future__ import annotations

import json
import re
import sys

import nbformat
import pytest
from conftest import REPO

from imbalanced_contrastive.significance import NOISE_RULE

sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tools"))

from build_book import NOTEBOOKS  # noqa: E402
from exercises import EXERCISES, MARKER, exercise_configs, outcome  # noqa: E402

from notebooks import TRAINING_CHAPTERS  # noqa: E402

STEMS = [n.removesuffix(".ipynb") for n in NOTEBOOKS]
EXERCISES_JSON = REPO / "benchmarks" / "exercises.json"

RUN_NUMBERS = {
    "a percentage": re.compile(r"\d\s*%"),
    "a p-value": re.compile(r"\bp\s*(=|<|>|≈|≤|≥)\s*0?\.\d"),
    "a runtime": re.compile(r"\b\d[\d,.]*\s*(s|sec|seconds|min|minutes|hours?)\b(?![-\w])"),
    "a measured-time note": re.compile(r"\bmeasured:\s*\d", re.I),
    "a mean ± std": re.compile(r"\d\s*±\s*\d"),
}
"""What a typed sentence about a chapter's runs would contain."""

SOLUTION = re.compile(r"<details><summary>(Solution|Answers)</summary>.*?</details>", re.S)


def _markdown(stem: str) -> list[str]:
    nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def offending_lines(text: str) -> list[tuple[str, str]]:
    """Lines of Markdown that state a number about runs: outside solution blocks (checked against
    the measured exercises instead), and not citing a paper (its reported numbers are allowed)."""
    found = []
    for line in SOLUTION.sub("", text).splitlines():
        if "cite:" in line:
            continue
        for what, pattern in RUN_NUMBERS.items():
            if pattern.search(line):
                found.append((what, line.strip()))
    return found


@pytest.mark.parametrize("stem", TRAINING_CHAPTERS)
def test_training_chapters_type_no_numbers_about_their_runs(stem):
    found = [(what, line) for text in _markdown(stem) for what, line in offending_lines(text)]
    assert not found, f"{stem}: typed numbers about runs (compute them with chapter.findings): {found}"


def test_the_number_check_catches_what_the_chapters_used_to_say():
    stale = [
        "Runtime: about a minute in the `quick` profile on a 2-core CPU (measured: 65 s).",
        "AFCL beat CL and FCL by about two points (71 % against 69 %), at the edge (p ≈ 0.01–0.05).",
        "BCL (76.2 ± 0.2) and RCL (75.4 ± 1.3) are within noise.",
        "the whole grid took 291 s",
    ]
    assert all(offending_lines(s) for s in stale)
    assert not offending_lines('as [Ren et al. (2020)](https://x "cite:ren2020balanced") report 52.3 %')
    assert not offending_lines("<details><summary>Solution</summary>\n\n15.6 % of the images\n\n</details>")


@pytest.mark.parametrize("stem", TRAINING_CHAPTERS)
def test_training_chapters_show_computed_findings(stem):
    code = [c.source for c in nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4).cells]
    assert any("chapter.findings(" in s for s in code if "def " not in s), f"{stem} shows no computed findings"


@pytest.mark.parametrize("stem", STEMS)
def test_every_exercise_has_a_solution_that_answers_it(stem):
    text = "\n\n".join(_markdown(stem))
    exercises = [m.start() for m in re.finditer(r"\*\*Exercise\.\*\*", text)]
    solutions = [m.start() for m in re.finditer(r"<details><summary>Solution</summary>", text)]
    assert len(exercises) == len(solutions) >= 1, f"{stem}: {len(exercises)} exercises, {len(solutions)} solutions"
    for e, s in zip(exercises, solutions, strict=True):
        assert e < s, f"{stem}: a solution comes before its exercise"
    for block in re.findall(r"<details><summary>Solution</summary>(.*?)</details>", text, re.S):
        for dodge in ("has not measured", "Measure it", "Run several seeds", "is an empirical question:"):
            assert dodge not in block, f"{stem}: a solution that does not answer ({dodge!r})"
        assert len(block.split()) >= 20, f"{stem}: a solution too short to answer: {block!r}"


@pytest.mark.parametrize("stem", STEMS)
def test_every_chapter_ends_with_self_check_questions_and_answers(stem):
    text = "\n\n".join(_markdown(stem))
    assert "## Check yourself" in text, f"{stem} has no self-check questions"
    tail = text[text.index("## Check yourself") :]
    assert re.search(r"^1\. ", tail, re.M) and "<details><summary>Answers</summary>" in tail, stem
    assert not re.search(r"^## ", tail[len("## Check yourself") :], re.M), f"{stem}: the self-check is not last"


def test_solutions_state_the_measured_outcomes_of_the_exercises():
    measured = json.loads(EXERCISES_JSON.read_text())
    assert set(measured["exercises"]) == set(EXERCISES)
    seen = set()
    for stem in STEMS:
        text = (REPO / "notebooks" / f"{stem}.md").read_text()
        for m in MARKER.finditer(text):
            name = m.group("name")
            seen.add(name)
            assert EXERCISES[name]["chapter"] == stem, f"exercise {name!r} belongs to {EXERCISES[name]['chapter']}"
            assert m.group("body") == outcome(name, measured), (
                f"{stem}: the solution of {name!r} differs from benchmarks/exercises.json; run "
                "`python benchmarks/exercises.py --update-notebooks`"
            )
            for t in measured["exercises"][name]["tests"]:
                assert f"{t['difference']:+.1f} points" in m.group("body")
    assert seen == set(EXERCISES), f"exercises without a measured outcome in their solution: {set(EXERCISES) - seen}"


def test_the_data_tours_solution_matches_the_quick_profile(real_fmnist_dir):
    from imbalanced_contrastive.training import make_config, splits_for

    splits = splits_for(make_config("ce", "quick", imbalance="long_tail", ratio=100.0, minority_classes=[]))
    sizes = {g: len(m) for g, m in splits.groups.as_dict().items()}
    text = (REPO / "notebooks" / "00_data_tour.md").read_text()
    words = {2: "2", 6: "6"}
    claim = f"{words.get(sizes['many'], sizes['many'])} classes are\n*many*"
    assert claim in text and f"{sizes['medium']} *medium*" in text and f"{sizes['few']} *few*" in text, sizes
    assert f"*many* above {splits.groups.many_threshold:,}" in text and f"below {splits.groups.few_threshold}" in text


def test_the_front_matter_holds_the_lecturers_sections():
    guide = (REPO / "book" / "guide.md").read_text()
    for heading in ("## Prerequisites", "## What each chapter teaches", "### Reading and run times", "## Course paths"):
        assert heading in guide, heading
    assert "_generated/execution_statistics.md" in guide, "the guide's run times come from the build"
    for stem in STEMS:
        assert f"_generated/{stem}>" in guide, f"the guide has no objectives for {stem}"
    assert len(re.findall(r"^\*\*A .*?\*\*", guide, re.M)) >= 3, "two or three course paths"
    glossary = (REPO / "book" / "glossary.md").read_text()
    for term in (
        "anchor",
        "contrast set",
        "two-stage",
        "logit adjustment",
        "effective number",
        "imbalance factor",
        "many, medium, few",
        "Balanced Softmax",
    ):
        assert re.search(rf"^{re.escape(term)}$", glossary, re.M), f"the glossary lacks {term!r}"
    notation = (REPO / "book" / "notation.md").read_text()
    for symbol in (r"$\rho$", r"$\lambda$", r"$\beta$", "IF", r"$w_{\text{con}}$", "$N(i)$"):
        assert symbol in notation, symbol
    toc = (REPO / "book" / "_toc.yml").read_text()
    front = toc[toc.index("Front matter") : toc.index("Getting started")]
    assert all(f"file: {page}" in front for page in ("guide", "glossary", "notation"))
    assert "file: execution_statistics" in toc


def test_one_symbol_one_meaning_in_the_chapters():
    # rho is RCL's prior strength only: ResCom's imbalance factor is written IF
    rescom = "\n".join(_markdown("05_rescom"))
    assert r"\rho" not in rescom.replace("writes ρ", ""), "ResCom's chapter writes IF for the imbalance factor"
    assert r"\lambda" not in rescom, "ResCom's loss weight is w_con (lambda is RCL's feature scale)"


def test_one_noise_rule_in_every_place_that_states_it():
    assert NOISE_RULE in (REPO / "book" / "reproducibility.md").read_text().replace("\n", " ")
    assert "two standard deviations" not in (REPO / "book" / "reproducibility.md").read_text()
    bench = "\n".join(_markdown("06_benchmark"))
    assert "Holm" in bench and "0.05" in bench and "reshuffling" not in bench


def test_the_runs_behind_the_exercises_are_what_the_current_settings_make():
    """Each exercise names the records it was measured from (seed, cache key, commit, release,
    device, training time); when the current settings no longer give those cache keys, its numbers
    are stale, and the message names the command that remakes them."""
    from imbalanced_contrastive import __version__

    measured = json.loads(EXERCISES_JSON.read_text())
    assert measured["release"] == __version__, (
        f"benchmarks/exercises.json was measured with release {measured['release']}, the book is {__version__}: "
        "run `python benchmarks/exercises.py` from a clean commit, then `--update-notebooks`"
    )
    for name, exercise in measured["exercises"].items():
        assert exercise["seconds"] > 0, f"{name}: no training time"
        for run, data in exercise["runs"].items():
            records = data["records"]
            assert [r["seed"] for r in records] == data["seeds"], (name, run)
            current = exercise_configs(name, measured["profile"], data["seeds"])[run]
            assert [c.cache_key() for c in current] == [r["cache_key"] for r in records], (
                f"{name}, {run}: the current settings no longer make the runs its solution quotes; remake them "
                "with `python benchmarks/exercises.py` (then `--update-notebooks`)"
            )
            for r in records:
                assert re.fullmatch(r"[0-9a-f]{40}", str(r["commit"])), f"{name}, {run}: made from uncommitted code"
                assert r["release"] and r["device"] and r["date"] and r["seconds"] > 0, (name, run, r)
