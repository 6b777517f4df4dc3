"""The workflow that publishes the book: valid, and built only from the README's Makefile targets.

actionlint is used when it is installed (its PyPI wrapper downloads a binary at install time, which
this offline machine cannot); the structural checks below run everywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO

from imbalanced_contrastive._meta import REPOSITORY_URL, SITE_URL

WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


def _workflow() -> dict:
    flow = yaml.safe_load(WORKFLOW.read_text())
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    return flow


def test_actionlint_when_available():
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint is not installed (the workflow is validated structurally by the tests below)")
    out = subprocess.run([exe, str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_run_step_calls_a_makefile_target():
    targets = _makefile_targets()
    runs = [step["run"] for job in _workflow()["jobs"].values() for step in job["steps"] if "run" in step]
    assert runs, "the workflow must build the book with the README's commands"
    for command in runs:
        words = command.split()
        assert words[:2] in (["make", words[1]], ["sudo", "make"]), f"not a make call: {command!r}"
        target = words[words.index("make") + 1]
        assert target in targets, f"{command!r} names no Makefile target (targets: {sorted(targets)})"
    assert any(r.split() == ["make", "book"] for r in runs), "the site is built by `make book`, as in the README"


def test_workflow_structure():
    flow = _workflow()
    assert flow["on"]["push"]["branches"] == ["main"]
    jobs = flow["jobs"]
    for name, job in jobs.items():
        assert job.get("runs-on") and job.get("steps"), f"job {name} needs runs-on and steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"a step of {name} must have exactly one of uses/run: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"pin actions to a major version: {step}"
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in jobs, f"job {name} needs an unknown job {need}"
    uses = {step["uses"].split("@")[0]: step for job in jobs.values() for step in job["steps"] if "uses" in step}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "book/_build/html"
    assert uses["actions/cache"]["with"]["path"] == "book/_generated/runs", "the run records of the book build"
    deploy = next(
        job for job in jobs.values() if any(s.get("uses", "").startswith("actions/deploy-pages") for s in job["steps"])
    )
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages" and deploy["needs"] == "build"


def test_book_paths_match_the_workflow():
    from build_book import GENERATED_DIR, SITE_DIR

    assert GENERATED_DIR == "book/_generated" and SITE_DIR == "book/_build/html"
    uses = {
        step["uses"].split("@")[0]: step
        for job in _workflow()["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    }
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == SITE_DIR, "the workflow publishes the built site"
    assert uses["actions/cache"]["with"]["path"] == f"{GENERATED_DIR}/runs", "the workflow caches the book's runs"


def test_readme_shows_the_site_and_how_it_is_published():
    readme = (REPO / "README.md").read_text()
    slug = REPOSITORY_URL.removeprefix("https://github.com/")
    assert SITE_URL in readme
    assert f"https://github.com/{slug}/actions/workflows/book.yml/badge.svg" in readme
    assert ".github/workflows/book.yml" in readme


# --- every workflow: the test workflow, the weekly Colab run, the book ---------------------------

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _load(path) -> dict:
    flow = yaml.safe_load(path.read_text())
    flow["on"] = flow.pop(True, flow.get("on"))
    return flow


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_every_workflow_step_calls_an_existing_makefile_target(path):
    targets = _makefile_targets()
    flow = _load(path)
    for name, job in flow["jobs"].items():
        assert job.get("runs-on") and job.get("steps"), f"{path.name}: job {name} needs runs-on and steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{path.name}: a step needs exactly one of uses/run: {step}"
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"pin actions to a major version: {step}"
                continue
            words = step["run"].split()
            assert words[0] == "make" or words[:2] == ["sudo", "make"], f"{path.name}: not a make call: {step['run']!r}"
            called = [w for w in words[words.index("make") + 1 :] if not w.startswith("-") and "=" not in w]
            assert called and set(called) <= targets, f"{path.name}: {step['run']!r} names unknown targets"


def test_the_test_workflow_runs_make_test_on_pushes_and_pull_requests():
    flow = _load(REPO / ".github" / "workflows" / "test.yml")
    assert "pull_request" in flow["on"] and flow["on"]["push"]["branches"] == ["main"]
    (job,) = flow["jobs"].values()
    assert [s["run"] for s in job["steps"] if "run" in s][-1] == "make test", "the README's test command"
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip", "pip downloads are cached between runs"
    assert job["env"]["CI"] == "true"


def test_the_colab_workflow_runs_two_chapters_weekly_in_colabs_image():
    flow = _load(REPO / ".github" / "workflows" / "colab.yml")
    assert flow["on"]["schedule"] and "workflow_dispatch" in flow["on"] and "pull_request" in flow["on"]
    (job,) = flow["jobs"].values()
    assert job["container"]["image"].startswith("us-docker.pkg.dev/colab-images/public/runtime")
    assert [s["run"] for s in job["steps"] if "run" in s] == ["make colab-chapters"]
    makefile = (REPO / "Makefile").read_text()
    rule = makefile.split("\ncolab-chapters:")[1].split("\n\n")[0]
    chapters = re.search(r"COLAB_CHAPTERS := (.*)", makefile).group(1).split()
    assert chapters == ["notebooks/01_primer.ipynb", "notebooks/02_acl_fmnist.ipynb"]
    assert all((REPO / c).is_file() for c in chapters)
    assert "-p profile smoke" in rule and "import google.colab" in rule, "smoke profile; the kernel as Colab's"


def test_readme_shows_every_workflows_badge():
    readme = (REPO / "README.md").read_text()
    slug = REPOSITORY_URL.removeprefix("https://github.com/")
    for path in WORKFLOWS:
        assert f"https://github.com/{slug}/actions/workflows/{path.name}/badge.svg" in readme, path.name
