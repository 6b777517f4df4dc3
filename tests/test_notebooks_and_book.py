"""Every notebook runs under papermill in the smoke profile and writes its records and figures; a
wrong parameter fails in the first cells; the strict book build works end to end and never leaves a
half-built site."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from books import SMOKE_NOTEBOOKS
from bs4 import BeautifulSoup
from build_book import NOTEBOOKS, build_book
from conftest import REPO

from imbalanced_contrastive import REPOSITORY_URL
from imbalanced_contrastive.data.fashion_mnist import CLASSES as FASHION_MNIST_CLASSES
from imbalanced_contrastive.records import RunRecord
from notebooks import CHAPTER_NOTEBOOKS

# notebook -> (figure folder, figures, number of run records it must produce)
EXPECTED = {
    "00_data_tour.ipynb": ("data_tour", ["sample_grid.png", "class_counts.png"], 0),
    "01_primer.ipynb": ("primer", ["pair_masks.png", "temperature.png", "umap.png"], 2),
    "02_acl_fmnist.ipynb": ("acl_fmnist", ["umap.png", "per_class.png"], 4),
    "03_acl_isic.ipynb": ("acl_isic", ["umap.png", "per_class.png"], 4),
    "04_bcl_rcl.ipynb": ("bcl_rcl", ["umap.png", "per_class.png"], 5),
    "05_rescom.ipynb": ("rescom", ["dual_imbalance.png", "umap.png", "per_class.png"], 4),
    "06_benchmark.ipynb": ("benchmark", ["benchmark.png", "class_mean_cosines.png"], 10),
    "10_entropy_axioms.ipynb": ("entropy_axioms", ["sandwich.png"], 0),
    "11_loss_calculus.ipynb": ("loss_calculus", ["per_pair_weights.png"], 0),
}


def test_every_notebook_is_expected_and_committed_without_outputs():
    assert set(NOTEBOOKS) == set(EXPECTED)
    assert sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name} has outputs"
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{name} needs exactly one 'parameters' cell"
        params = pm.inspect_notebook(str(REPO / "notebooks" / name))
        assert {"profile", "seed", "output_dir", "data_dir"} <= set(params) or name == "06_benchmark.ipynb"


def test_training_notebooks_expose_the_usual_parameters():
    for name in ("02_acl_fmnist.ipynb", "04_bcl_rcl.ipynb", "05_rescom.ipynb"):
        params = pm.inspect_notebook(str(REPO / "notebooks" / name))
        assert {"profile", "dataset", "epochs", "seed", "device", "data_dir", "output_dir"} <= set(params), name
    assert {"seeds", "methods"} <= set(pm.inspect_notebook(str(REPO / "notebooks" / "06_benchmark.ipynb")))


def test_colab_links_use_the_one_repository_url():
    colab = REPOSITORY_URL.replace("https://github.com", "https://colab.research.google.com/github")
    for name in NOTEBOOKS:
        text = (REPO / "notebooks" / name).read_text()
        assert f"{colab}/blob/main/notebooks/{name}" in text
        assert f"git+{REPOSITORY_URL}" in text
    assert f"url: {REPOSITORY_URL}" in (REPO / "book" / "_config.yml").read_text()


def _stream_text(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    return "\n".join(
        o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
    )


def test_the_default_book_trains_nothing_and_says_what_it_shows(default_book):
    """Every chapter in the default profile, with an empty runs folder, trains nothing: it loads the
    committed records of its runs (grid.py's, seeds 0-2) and its page says so, with their profile,
    seeds, device and release."""
    from imbalanced_contrastive.grid import CHAPTER_RUNS, GRID_SEEDS, benchmark_configs, chapter_configs

    root, executed = default_book
    out = root / "book" / "_generated"
    assert [p.name for p in executed] == NOTEBOOKS
    assert all(json.loads(p.read_text())["metadata"]["papermill"]["parameters"]["profile"] == "full" for p in executed)
    trained = [p for p in (out / "runs").rglob("*") if p.name == "record.json" or p.name.startswith("checkpoint")]
    assert not trained, f"the default book trained on a CPU: {trained}"
    counts = {
        notebook: len(chapter_configs(CHAPTER_RUNS[chapter](), "full", "fmnist", GRID_SEEDS))
        for chapter, notebook in CHAPTER_NOTEBOOKS.items()
    }
    counts["06_benchmark.ipynb"] = len(benchmark_configs("full", "fmnist"))
    for notebook, n in counts.items():
        text = _stream_text(out / notebook)
        assert "train='auto' without a CUDA device" in text and "set train=True" in text, notebook
        stated = f"{n} committed records loaded (full profile · {n} runs · seeds 0, 1, 2 · cpu:"
        assert stated in text and " · release " in text, (notebook, stated)  # the records' releases, named
    assert "This run trained nothing" in json.dumps(json.loads((out / "03_acl_isic.ipynb").read_text())["cells"])


def test_smoke_notebooks_produce_records_and_figures(smoke_book):
    root, executed = smoke_book
    out = root / "book" / "_generated"
    assert [p.name for p in executed] == SMOKE_NOTEBOOKS
    for name in SMOKE_NOTEBOOKS:
        folder, figures, _ = EXPECTED[name]
        for fig in figures:
            assert (out / "figures" / folder / fig).stat().st_size > 1000, f"{name}: {fig} missing"
        nb = json.loads((out / name).read_text())
        assert any(o.get("output_type") == "display_data" for c in nb["cells"] for o in c.get("outputs", [])), name
    records = [RunRecord.load(p.parent) for p in (out / "runs").rglob("record.json")]
    datasets = {r.config["dataset"] for r in records}
    assert datasets == {"fmnist", "isic2018"}
    assert {r.config["method"] for r in records} >= {"ce", "supcon", "cl", "fcl", "acl", "afcl", "bcl", "rcl", "rescom"}
    log = (root / "build.log").read_text()
    shared = log[log.index("06_benchmark.ipynb") :]  # the chapters' runs it shares are not trained again
    for run in ("ce seed 0", "balanced_softmax seed 0", "cl seed 0", "fcl seed 0", "acl seed 0", "afcl seed 0"):
        assert re.search(rf"run \d+/\d+ {run}: loaded from the cache", shared), run
    benchmark = (out / "benchmark.md").read_text()
    assert "rescom" in benchmark and "±" in benchmark
    results = (out / "results.md").read_text()
    assert "not reported" in results and "ISIC 2018" in results
    assert "| full | balanced_softmax | 3 |" in results, "the committed full-data records are on the Results page"


FINDINGS = {
    "01_primer.ipynb": ["primer"],
    "02_acl_fmnist.ipynb": ["acl_fmnist"],
    "03_acl_isic.ipynb": ["acl_isic"],
    "04_bcl_rcl.ipynb": ["bcl_rcl"],
    "05_rescom.ipynb": ["rescom"],
    "06_benchmark.ipynb": ["benchmark"],
}
"""The findings each training chapter shows (``<output_dir>/findings/<key>.json``)."""


def _shown_markdown(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)  # multi-line outputs joined
    return "\n".join(
        o["data"]["text/markdown"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "text/markdown" in o.get("data", {})
    )


def test_training_chapters_show_findings_computed_from_their_records(smoke_book):
    """Each training chapter shows its findings as Markdown, and their numbers are what this test
    computes from the same records: the best run's mean balanced accuracy and the training time."""
    from collections import defaultdict

    root, _ = smoke_book
    out = root / "book" / "_generated"
    records = {}
    for folder in (out / "runs", root / "results"):
        for path in folder.rglob("record.json"):
            rec = RunRecord.load(path.parent)
            records[rec.config["cache_key"]] = rec
    for notebook, keys in FINDINGS.items():
        shown = _shown_markdown(out / notebook)
        for key in keys:
            saved = json.loads((out / "findings" / f"{key}.json").read_text())
            assert saved["markdown"] in shown, f"{notebook}: the findings {key} are not shown"
            recs = [records[k] for k in saved["cache_keys"]]
            runs = defaultdict(list)
            for r in recs:
                params = json.dumps(r.config["loss_params"], sort_keys=True)
                setting = (r.config["method"], params, r.config["stage2_loss"])
                runs[setting].append(r.metrics["balanced_accuracy"])
            best = max(sum(v) / len(v) for v in runs.values())
            first = saved["markdown"].splitlines()[0]
            assert first.startswith("* Highest balanced accuracy") or len(runs) == 1, first
            assert f"{100 * best:.1f}" in first, (key, best, first)
            assert saved["facts"]["best_balanced_accuracy"] == pytest.approx(best)
            seconds = sum(r.wall_time_s for r in recs)
            assert f"{seconds:,.0f} s for {len(recs)} runs" in saved["markdown"], key
            if min(len(v) for v in runs.values()) == 1:
                assert "One seed per run" in saved["markdown"]
            else:
                assert "Holm" in saved["markdown"] and "One seed" not in saved["markdown"]


def test_the_build_lists_each_notebooks_execution_time(smoke_book):
    root, executed = smoke_book
    table = (root / "book" / "_generated" / "execution_statistics.md").read_text()
    total = 0.0
    for path in executed:
        duration = json.loads(path.read_text())["metadata"]["papermill"]["duration"]
        total += duration
        row = next(line for line in table.splitlines() if f"/_generated/{path.stem}>" in line)
        assert f"| {duration:,.0f} s |" in row and "`smoke`" in row and "min (" in row, row
    assert f"**{total:,.0f} s**" in table


def test_strict_book_build(built_site):
    root, html = built_site
    assert (html / "index.html").is_file()
    page = (html / "_generated" / "00_data_tour.html").read_text()
    assert "<img" in page and "Fashion-MNIST" in page
    assert "not reported" in (html / "results.html").read_text()
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file(), "MathJax must be bundled"
    assert "cdn.jsdelivr.net/npm/mathjax" not in page and "mathjax/tex-mml-chtml.js" in page


def test_a_failed_build_keeps_the_last_good_site(built_site, tmp_path):
    root, _ = built_site
    copy = tmp_path / "repo"
    shutil.copytree(root, copy)
    index = copy / "book" / "_build" / "html" / "index.html"
    before = index.read_bytes()
    (copy / "book" / "intro.md").write_text((copy / "book" / "intro.md").read_text() + "\n{cite}`no-such-key`\n")
    with pytest.raises(RuntimeError, match="previous site"):
        build_book(copy)
    assert index.read_bytes() == before, "a failed build must not touch the last good site"
    assert not list((copy / "book").glob("book-build-*")), "no half-built folder may be left behind"


def _png_of_cell(notebook: Path, marker: str) -> bytes:
    import base64

    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            for out in cell.get("outputs", []):
                if "image/png" in out.get("data", {}):
                    return base64.b64decode(out["data"]["image/png"])
    raise AssertionError(f"no PNG output in the cell calling {marker} of {notebook.name}")


def test_rendered_pages_in_headless_chromium(built_site):
    from browser import rendered_dom
    from localhttp import serve

    root, html = built_site
    colab = REPOSITORY_URL.replace("https://github.com", "https://colab.research.google.com/github")
    with serve(html) as base:
        page = rendered_dom(f"{base}/_generated/02_acl_fmnist.html")
        intro = rendered_dom(f"{base}/intro.html")
        theory = rendered_dom(f"{base}/_generated/10_entropy_axioms.html")
    # math typeset by the bundled MathJax (no network): CHTML output elements exist
    assert "<mjx-container" in page and "<mjx-container" in theory
    # the UMAP figure of the executed notebook is on the page, with its caption and alt text
    png = _png_of_cell(root / "book" / "_generated" / "02_acl_fmnist.ipynb", "plot_umap_grid")
    assert base64.b64encode(png).decode() in page, "the UMAP figure is missing from the rendered page"
    assert "<figcaption>UMAP of the test-set encoder features" in page
    # citations resolve to the bibliography (author-year text, no unresolved key)
    assert "Vito and Stefanus" in intro and "references.html#" in intro
    # the Colab launch button and badge open the source notebook in notebooks/
    assert f"{colab}/blob/main/notebooks/02_acl_fmnist.ipynb" in page
    assert "/book/_generated/" not in page


WRONG_PARAMETERS = [
    ("00_data_tour.ipynb", {"profile": "fast"}, "profile must be one of"),
    ("02_acl_fmnist.ipynb", {"epochs": -3}, "epochs must be an integer >= 1"),
    ("02_acl_fmnist.ipynb", {"gammas": [-1.0]}, "gamma must be a finite number >= 0"),
    ("03_acl_isic.ipynb", {"losses": ["supcontrast"]}, "method must be one of"),
    ("06_benchmark.ipynb", {"methods": ["ce", "simclr"]}, "method must be one of"),
]


@pytest.mark.parametrize("name, parameters, message", WRONG_PARAMETERS)
def test_a_wrong_parameter_fails_in_the_first_cells(tmp_path, real_fmnist_dir, name, parameters, message):
    """The notebook's own cells, run in this process (tests/nbexec.py): the parameters cell and the
    Colab install cell pass, the first cell after them fails with the named error, nothing trains."""
    from nbexec import run_in_process

    runs = Path(os.environ["IMBALANCED_CONTRASTIVE_RUNS"])
    smoke = {"profile": "smoke", "output_dir": str(tmp_path)}
    control = run_in_process(REPO / "notebooks" / name, smoke, tmp_path, stop_after=2)
    assert control.failed_cell is None, f"{name} fails with its defaults: {control.error!r}"
    outcome = run_in_process(REPO / "notebooks" / name, {**smoke, **parameters}, tmp_path)
    assert isinstance(outcome.error, ValueError) and message in str(outcome.error), repr(outcome.error)
    # code cells: parameters, Colab install, then the first cell that checks them
    assert outcome.failed_cell == 2, (
        f"{name} failed in code cell {outcome.failed_cell}, not the first after the parameters"
    )
    assert not list(runs.rglob("record.json")) and not list(runs.rglob("checkpoint*")), (
        "nothing may be trained before the parameters are checked"
    )


@pytest.mark.slow
def test_a_wrong_parameter_stops_papermill_where_a_reader_sees_it(tmp_path, real_fmnist_dir):
    """One of the cases above through papermill and a kernel, as `make book` runs a notebook: the
    error reaches papermill's, in the first cell after the injected parameters."""
    name, parameters, message = WRONG_PARAMETERS[0]
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(
            str(REPO / "notebooks" / name),
            str(out),
            parameters={"output_dir": str(tmp_path), **parameters},
            progress_bar=False,
            kernel_name="python3",
        )
    assert message in str(err.value)
    code = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    # code cells: parameters, injected parameters, Colab install, then the first cell that checks them
    assert failed == [3], f"{name} failed in code cell {failed}, not in the first cell after the parameters"


def test_no_page_needs_a_horizontal_scroll_at_1280px(built_site, tmp_path):
    """Every page as a reader's browser shows it (headless Chromium, 1280 px): no table, code block,
    output or figure inside the article needs a horizontal scroll or sticks out of it; the
    explorer renders its plot and loads no script from the network."""
    from browser import LAYOUT_PROBE, layout_reports
    from localhttp import serve

    _, html = built_site
    site = tmp_path / "site"
    shutil.copytree(html, site)
    pages = [
        p
        for p in sorted(site.rglob("*.html"))
        if "_static" not in p.parts
        and p.name not in ("search.html", "genindex.html")
        and 'http-equiv="Refresh"' not in p.read_text()  # index.html only redirects to the first page
    ]
    for page in pages:
        page.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    problems, explorers = [], {}
    names = [page.relative_to(site).as_posix() for page in pages]
    with serve(site) as base:
        reports = layout_reports(base, site, names)  # one Chromium process for every page
        for name in names:
            report = reports[name]
            assert report["width"] == 1280, (name, report["width"])
            problems += [f"{name}: {p}" for p in report["problems"]]
            if report["explorers"]:
                explorers[name] = report["explorers"]
    assert not problems, f"{len(problems)} layout problems at 1280 px:\n" + "\n".join(problems[:40])
    umap_chapters = {  # not the ISIC chapter: without its data it trains nothing (the smoke book runs its explorer)
        f"_generated/{n}.html" for n in ("01_primer", "02_acl_fmnist", "04_bcl_rcl", "05_rescom")
    }
    assert set(explorers) == umap_chapters | {"_generated/06_benchmark.html"}, (
        "every chapter with a UMAP has an explorer"
    )
    for name, found in explorers.items():
        for explorer in found:
            assert explorer["canvas"] >= 1 and explorer["remote_scripts"] == [], (name, explorer)


def test_the_explorer_holds_every_points_image_class_and_prediction(built_site):
    import html as html_lib

    _, html = built_site
    page = BeautifulSoup((html / "_generated" / "06_benchmark.html").read_text(), "html.parser")
    frames = page.select("iframe.embedding-explorer")
    assert len(frames) == 1
    doc = frames[0]["srcdoc"]
    assert not re.search(r"<script[^>]+src=", doc), "the explorer loads no script: Bokeh's is inlined"
    found = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', html_lib.unescape(doc), re.S)
    sources: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "ColumnDataSource":
                sources.append(dict(node["attributes"]["data"]["entries"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(found[0]))
    shown = next(s for s in sources if "image" in s)
    n = len(shown["image"])
    assert n >= 20 and all(len(shown[k]) == n for k in ("true", "predicted", "x", "y"))
    assert all(uri.startswith("data:image/png;base64,") for uri in shown["image"])
    classes = set(shown["true"]) | set(shown["predicted"])
    assert classes <= set(FASHION_MNIST_CLASSES)
    runs = next(s for s in sources if "image" not in s)
    assert len({k.split("|")[0] for k in runs}) >= 2, "the menu switches between several runs"


def test_every_page_is_clean(built_site):
    """No progress bars, machine paths, stderr blocks, raw MyST or figures without alt text."""
    from pagecheck import page_problems

    root, html = built_site
    assert len(list(html.rglob("*.html"))) >= 12
    problems = page_problems(html, forbidden_paths=["/tmp/", str(root), str(Path.home()) + "/"])
    assert not problems, "\n".join(problems)
    chapter = BeautifulSoup((html / "_generated" / "02_acl_fmnist.html").read_text(), "html.parser")
    assert len(chapter.find_all("figcaption")) >= 2, "the chapter's figures carry captions"
    install = "In Colab only: install the companion"
    assert install not in chapter.get_text(), "the Colab install cell is for Colab, not for the page"
    assert not [p for p in html.rglob("*.html") if "Proof Index" in p.read_text()[:3000]], "no orphan index page"
    theory = BeautifulSoup((html / "_generated" / "10_entropy_axioms.html").read_text(), "html.parser")
    assert theory.select(".tag_hide-input"), "the theory chapter's long checking cells are collapsed"


def test_tables_have_one_row_per_experiment(smoke_book):
    import csv

    root, _ = smoke_book
    for table in ("benchmark.csv", "results.csv"):
        rows = list(csv.DictReader((root / "book" / "_generated" / table).open()))
        keys = [(r["dataset"], r["imbalance"], r["ratio"], r["profile"], r["method"], r["settings"]) for r in rows]
        assert rows and len(keys) == len(set(keys)), f"{table}: an experiment is split over several rows"
    bench = [r for r in csv.DictReader((root / "book" / "_generated" / "benchmark.csv").open())]
    assert {r["seeds"] for r in bench} == {"0 1 2"}, "every method's row holds all its seeds"
    page = (root / "book" / "_generated" / "06_benchmark.ipynb").read_text()  # the executed chapter, outputs included
    assert "balanced acc. vs ce" in page and "few vs ce" in page, "the benchmark tests its differences"
    verdicts = ("(within noise, Holm p", "(above, Holm p", "(below, Holm p")
    assert any(v in page for v in verdicts), "each difference gets a verdict and a corrected p-value"


@pytest.mark.slow
def test_the_book_builds_from_a_checkout_with_the_library_installed(tmp_path, real_fmnist_dir):
    """The book build is the repository's (tools/build_book.py), not the library's: it works from a
    checkout without src/, with the package installed, run from any folder."""
    import subprocess
    import sys

    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("_build", "_generated", "__pycache__")
    for folder in ("notebooks", "book", "tools"):
        shutil.copytree(REPO / folder, checkout / folder, ignore=ignore)
    assert not (checkout / "src").exists()
    proc = subprocess.run(
        [
            sys.executable,
            str(checkout / "tools" / "build_book.py"),
            "--profile",
            "smoke",
            "--execute-only",
            "--only",
            "10_entropy_axioms.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (checkout / "book" / "_generated" / "10_entropy_axioms.ipynb").is_file()
    assert "[1/1] 10_entropy_axioms.ipynb (smoke)" in proc.stdout
    assert "IPKernelApp" not in proc.stdout + proc.stderr, "the terminal shows progress, not the kernel's notices"
    library = REPO / "src" / "imbalanced_contrastive"
    book_tools = re.compile(r"^\s*(?:import|from)\s+(?:papermill|jupyter_book|nbformat|nbconvert|jupytext)\b", re.M)
    for module in library.rglob("*.py"):
        assert not book_tools.search(module.read_text()), (
            f"{module.relative_to(REPO)}: the library must not build the book"
        )
