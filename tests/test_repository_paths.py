"""Every path a tracked file cites is in the repository (or is made by the build): readers of the
repository and of the site must be able to open what they are pointed to."""

from __future__ import annotations

import re
import subprocess

from conftest import REPO

EXTENSIONS = ("md", "py", "ipynb", "yml", "yaml", "toml", "bib", "cfg", "cff", "txt", "sh")
PATH = re.compile(r"(?<![\w/.@:-])((?:\.\./|\./)?(?:[\w.-]+/)*[\w-]+\.(?:" + "|".join(EXTENSIONS) + r"))(?![\w/-])")

GENERATED = (
    "book/_build/",
    "book/_generated/",
    "_generated/",
    ".venv/",
    "outputs/",
    "runs/",
    "figures/",
    "$OUT/",
)
"""Folders the build or a run makes (git-ignored): paths below them are not in a checkout."""

MADE_BY_RUNS = {
    "results.md",
    "benchmark.md",
    "record.json",
    "checkpoint.pt",
    "requirements.txt",  # pip's, in Binder/Colab text
    "conf.py",
    "sitecustomize.py",
    "__init__.py",
    "kernel.json",
    "setup.py",
    "index.html",
    "out.ipynb",
    "empty.ipynb",  # benchmarks/quick_book.py times papermill on it, in a temporary folder
    "clean.ipynb",  # tests/test_lint.py writes these two in a temporary folder
    "dirty.ipynb",
}
"""File names that the build, a run, a test or another tool makes, or that name a convention rather
than a file of this repository. ``NN_name`` stands for any chapter's name."""


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    this = "tests/test_repository_paths.py"  # names dangling paths on purpose, to test the check
    return [p for p in out.stdout.splitlines() if p.rsplit(".", 1)[-1] in EXTENSIONS and p != this]


def _cited(text: str) -> set[str]:
    return {m.group(1) for m in PATH.finditer(text) if not m.group(1).startswith(("http", "www."))}


def _dangling(tracked: list[str]) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    names = {p.rsplit("/", 1)[-1] for p in out.stdout.splitlines()}  # every tracked file, whatever its type
    bad = []
    for rel in tracked:
        text = (REPO / rel).read_text(errors="replace")
        text = re.sub(r"https?://\S+", "", text)  # web addresses are not repository paths
        for cited in sorted(_cited(text)):
            path = cited.removeprefix("./")
            if "shared/" in path or path.startswith("../"):
                bad.append(f"{rel}: {cited} (outside the repository)")
            elif any(g in path for g in GENERATED) or path.rsplit("/", 1)[-1] in MADE_BY_RUNS or "NN_name" in path:
                continue
            elif "/" in path:
                if not ((REPO / path).exists() or (REPO / rel).parent.joinpath(path).exists()):
                    bad.append(f"{rel}: {cited}")
            elif path not in names:
                bad.append(f"{rel}: {cited}")
    return bad


def test_no_tracked_file_cites_a_path_outside_the_repository():
    bad = _dangling(_tracked())
    assert not bad, "tracked files cite paths that are not in the repository:\n" + "\n".join(bad)


def test_the_check_catches_a_dangling_reference(tmp_path, monkeypatch):
    outside = "shared" + "/papers/acl.md"  # spelt in two parts: this file is scanned too
    assert _cited(f"see {outside} section 2.3") == {outside}
    assert _cited("(acl.md 5.2) and src/imbalanced_contrastive/_meta.py") == {
        "acl.md",
        "src/imbalanced_contrastive/_meta.py",
    }
    monkeypatch.setattr("test_repository_paths.REPO", tmp_path)
    (tmp_path / "a.md").write_text(f"Cites {outside} and rescom.md, and b.md.\n")
    (tmp_path / "b.md").write_text("ok")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "a.md", "b.md"], cwd=tmp_path, check=True)
    assert _dangling(["a.md", "b.md"]) == ["a.md: rescom.md", f"a.md: {outside} (outside the repository)"]
