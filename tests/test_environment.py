"""The pinned environment is described identically by requirements.txt and environment.yml, and
the package metadata accepts ranges (so Colab keeps its own torch)."""

from __future__ import annotations

import re

import tomllib
import yaml
from conftest import REPO


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"not an exact pin: {line!r}"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_requirements_and_environment_yml_agree():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml must have exactly one pip: section"
    assert _pins(pip_sections[0]) == req


def test_required_pins():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    assert req["torch"] == "2.14.1"
    assert req["torchvision"] == "0.29.1"
    assert req["jupyter-book"] == "1.0.4.post1"
    for name in ("matplotlib", "seaborn", "umap-learn", "papermill", "sympy", "tqdm", "scikit-learn", "pytest"):
        assert name in req, f"{name} must be pinned in requirements.txt"


def test_package_metadata_uses_ranges_for_torch():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0]: d for d in meta["dependencies"]}
    assert "==" not in deps["torch"] and ">=" in deps["torch"]
    assert "==" not in deps["torchvision"]
    assert {"book", "dev"} <= set(meta["optional-dependencies"])


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_citation_names_the_package_version():
    from imbalanced_contrastive._meta import VERSION

    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert str(cff["version"]) == VERSION, "CITATION.cff must name the release in _meta.VERSION"
