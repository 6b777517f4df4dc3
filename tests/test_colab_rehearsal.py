"""A rehearsal of Colab: the chapters run from their committed .ipynb on a fresh runtime, and every
dataset that can be downloaded is downloaded through the ecosystem's own downloaders.

"Fresh Colab runtime" here means a subprocess with an importable and imported ``google.colab``
stub, an empty home and caches, no local Fashion-MNIST (the Debian copy is hidden from the
library's search), and the internet replaced by a small HTTP server on 127.0.0.1 that serves the
real Fashion-MNIST files at the URL torchvision downloads from (its mirror list patched in the
subprocess) and the repository's committed ``results/`` at the address of the tagged release's files
(a pip-installed release has no ``results/`` folder: the library fetches the records it needs and
checks them against its manifest). The server lives only for the ``with`` block of each test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import REPO, seconds_until
from localhttp import serve

from imbalanced_contrastive.data.files import md5_of_file

SITECUSTOMIZE = '''\
"""A fresh Colab runtime, as far as the companion can tell (written by tests/test_colab_rehearsal.py)."""
import json, os
from pathlib import Path

import google.colab  # noqa: F401 - Colab imports it when the runtime starts

from torchvision.datasets import FashionMNIST

_md5 = json.loads(os.environ["REHEARSAL_FMNIST_MD5"])
FashionMNIST.mirrors = [os.environ["REHEARSAL_MIRROR"]]  # "the internet": a server on 127.0.0.1
FashionMNIST.resources = [(name, _md5[name]) for name, _ in FashionMNIST.resources]

import imbalanced_contrastive.data.fashion_mnist as _fmnist

_fmnist.DEBIAN_DIR = Path("/nonexistent/fashion-mnist")  # Colab has no Debian dataset package

import imbalanced_contrastive.committed as _committed

_committed.CHECKOUT_RESULTS = Path("/nonexistent/results")  # installed from git: no checkout's results/ folder
'''


@pytest.fixture(scope="module")
def colab_site(tmp_path_factory) -> Path:
    """A folder for PYTHONPATH: the ``google.colab`` stub and the ``sitecustomize`` above."""
    site = tmp_path_factory.mktemp("colab_site")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "__init__.py").write_text("")
    (site / "google" / "colab" / "__init__.py").write_text('"""Stub of Colab\'s module for the rehearsal."""\n')
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return site


@pytest.fixture(scope="module")
def fmnist_mirror(real_fmnist_dir, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The real Fashion-MNIST archives laid out as torchvision's mirror serves them, and their MD5s."""
    mirror = tmp_path_factory.mktemp("mirror")
    for f in sorted(real_fmnist_dir.glob("*-ubyte.gz")):
        shutil.copy(f, mirror / f.name)
    md5 = {f.name: md5_of_file(f) for f in mirror.iterdir()}
    shutil.copytree(
        REPO / "results", mirror / "results"
    )  # the tagged release's files, as raw.githubusercontent serves them
    assert len(md5) == 4, f"expected the four Fashion-MNIST archives in {real_fmnist_dir}"
    return mirror, md5


def _run_as_colab(chapter: str, profile: str | None, colab_site: Path, mirror: Path, md5: dict, tmp_path: Path):
    """papermill runs ``chapter`` on the rehearsed runtime; returns (process, requests, home, out, seconds)."""
    home, out = tmp_path / "home", tmp_path / "content"
    home.mkdir()
    out.mkdir()
    requests: list[str] = []
    with serve(mirror, requests) as url:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(colab_site),
            "MPLBACKEND": "Agg",
            "CI": "true",
            "REHEARSAL_MIRROR": f"{url}/",
            "REHEARSAL_FMNIST_MD5": json.dumps(md5),
            "IMBALANCED_CONTRASTIVE_RESULTS_URL": f"{url}/results",
        }
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                str(REPO / "notebooks" / f"{chapter}.ipynb"),
                str(out / f"{chapter}.ipynb"),
                *(["-p", "profile", profile] if profile else []),  # None: the chapter's default
                "-p",
                "output_dir",
                str(out),
                "--cwd",
                str(out),
                "-k",
                "python3",
                "--no-progress-bar",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - t0
    assert proc.returncode == 0, f"{chapter} failed on the rehearsed Colab runtime:\n{proc.stderr[-6000:]}"
    return proc, requests, home, out, seconds


@pytest.mark.slow
def test_a_chapter_trains_on_a_fresh_colab_runtime(colab_site, fmnist_mirror, tmp_path):
    """The primer in the smoke profile (as on a GPU runtime, where `train="auto"` trains): the data
    downloaded into the user cache, the runs recorded there, the install cell skipped. What it
    checks is the same for every chapter (one data loader, one runs folder, one install cell built
    from one constant, tests/test_notebook_sources.py), so one chapter rehearses them; every
    chapter runs in the smoke book."""
    chapter = "01_primer"
    mirror, md5 = fmnist_mirror
    proc, requests, home, out, _ = _run_as_colab(chapter, "smoke", colab_site, mirror, md5, tmp_path)
    requests = [r for r in requests if not r.startswith("/results/")]
    downloaded = {p.rsplit("/", 1)[-1] for p in requests}
    assert downloaded == set(md5), f"expected a download of each archive; the server saw {requests}"
    cache = home / ".cache" / "imbalanced_contrastive" / "FashionMNIST" / "raw"
    assert all((cache / name).is_file() for name in md5), f"the data must land in the user cache {cache}"
    runs = home / ".cache" / "imbalanced_contrastive" / "runs"
    assert list(runs.rglob("record.json")), f"the chapter must train and record its runs in the user cache {runs}"
    executed = json.loads((out / f"{chapter}.ipynb").read_text())
    install = next(c for c in executed["cells"] if "".join(c["source"]).startswith("# In Colab only: install"))
    assert not install["outputs"], "the library's release is installed already: the install cell must skip pip"


@pytest.mark.slow
def test_the_benchmark_at_its_defaults_fetches_the_committed_records(colab_site, fmnist_mirror, tmp_path):
    """A CPU-only runtime opening the benchmark as it is (no parameter given: the ``full`` profile,
    ``train="auto"``): the committed records of the release are downloaded (and checked), nothing
    is trained, and the results show in under a minute."""
    from imbalanced_contrastive.committed import read_manifest
    from imbalanced_contrastive.grid import GRID_METHODS, GRID_SEEDS, benchmark_configs

    mirror, md5 = fmnist_mirror
    proc, requests, home, out, seconds = _run_as_colab("06_benchmark", None, colab_site, mirror, md5, tmp_path)
    fetched = {r.removeprefix("/results/") for r in requests if r.startswith("/results/")}
    wanted = {f"fmnist/full/{m}/seed{s}/record.json" for m in GRID_METHODS for s in GRID_SEEDS}
    assert wanted <= fetched <= set(read_manifest()), f"the records fetched: {sorted(fetched)}"
    cache = home / ".cache" / "imbalanced_contrastive"
    assert not list((cache / "runs").rglob("record.json")), "the full profile must train nothing"
    assert len(list((cache / "results").rglob("record.json"))) >= len(wanted)
    executed = json.loads((out / "06_benchmark.ipynb").read_text())
    text = json.dumps(executed["cells"], ensure_ascii=False)
    assert executed["metadata"]["papermill"]["parameters"].get("profile") is None, "no profile was given"
    assert "train='auto' without a CUDA device" in text, "the chapter says why it loads"
    assert f"{len(benchmark_configs('full', 'fmnist'))} committed records loaded" in text
    assert "balanced_softmax" in text
    shown = seconds_until(executed, "committed records loaded")
    assert shown < 60, (
        f"the committed results took {shown:.0f} s to show (at most 60; the whole chapter {seconds:.0f} s)"
    )


def test_offline_download_names_what_was_tried_and_the_way_out(monkeypatch, tmp_path):
    from torchvision.datasets import FashionMNIST

    import imbalanced_contrastive.data.fashion_mnist as fmnist

    monkeypatch.setattr(fmnist, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there: offline
    with pytest.raises(FileNotFoundError) as err:
        fmnist.load_fashion_mnist(download=True)
    message = str(err.value)
    assert "downloading it into" in message and "apt-get install" in message and "data_dir" in message


def _write_cifar10_archive(folder: Path) -> Path:
    from data.test_other_sources import write_cifar10

    batches = write_cifar10(folder / "src")
    archive = folder / "served" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(batches, arcname="cifar-10-batches-py")
    return archive


def test_cifar10_is_downloaded_with_torchvision(monkeypatch, tmp_path):
    """torchvision's downloader fetches the archive from the URL torchvision names (patched to the
    local server) and checks it against the class's MD5 (patched to our small archive's)."""
    from torchvision.datasets import CIFAR10

    from imbalanced_contrastive.data.files import cache_dir
    from imbalanced_contrastive.training import make_config, splits_for

    archive = _write_cifar10_archive(tmp_path)
    requests: list[str] = []
    with serve(archive.parent, requests) as url:
        monkeypatch.setattr(CIFAR10, "url", f"{url}/{archive.name}")
        monkeypatch.setattr(CIFAR10, "tgz_md5", md5_of_file(archive))
        config = make_config(
            "ce",
            "smoke",
            "cifar10",
            download=True,
            train_per_class=10,
            test_per_class=1,
            ratio=2.0,
            many_threshold=8,
            few_threshold=6,
        )
        splits = splits_for(config)  # the download setting goes from the config through the splits
        asked = len(requests)
        again = splits_for(config)  # now in the cache: nothing is downloaded again
    assert asked >= 1 and set(requests) == {f"/{archive.name}"} and len(requests) == asked
    assert CIFAR10.filename == archive.name
    assert (cache_dir() / "cifar" / "cifar-10-batches-py" / "data_batch_1").is_file()
    assert splits.train.images.shape[1:] == (3, 32, 32) and len(again.test) == 10


def test_dermamnist_is_downloaded_with_medmnist(monkeypatch, tmp_path):
    from data.test_other_sources import write_dermamnist
    from medmnist import INFO

    from imbalanced_contrastive.data.dermamnist import load_dermamnist

    served = tmp_path / "served"
    served.mkdir()
    write_dermamnist(served / "dermamnist.npz")
    requests: list[str] = []
    with serve(served, requests) as url:
        monkeypatch.setitem(INFO["dermamnist"], "url", f"{url}/dermamnist.npz")
        monkeypatch.setitem(INFO["dermamnist"], "MD5", md5_of_file(served / "dermamnist.npz"))
        splits = load_dermamnist(download=True)
    assert requests and set(requests) == {"/dermamnist.npz"}
    assert splits["train"].images.shape == (21, 3, 28, 28)


def test_dermamnist_download_failure_says_where_to_get_it(monkeypatch):
    from medmnist import INFO

    from imbalanced_contrastive.data.dermamnist import load_dermamnist

    monkeypatch.setitem(INFO["dermamnist"], "url", "http://127.0.0.1:9/dermamnist.npz")
    with pytest.raises(FileNotFoundError, match=r"downloading dermamnist\.npz .* failed .*data_dir"):
        load_dermamnist(download=True)


def test_download_setting_reaches_the_loader(monkeypatch):
    import imbalanced_contrastive.data.catalogue as catalogue
    from imbalanced_contrastive.training import make_config, splits_for

    seen = {}

    def fake_source(name, data_dir=None, download=False, image_size=64):
        seen.update(name=name, download=download)
        raise RuntimeError("stop here")

    monkeypatch.setattr(catalogue, "load_source", fake_source)
    for download in (False, True):
        with pytest.raises(RuntimeError, match="stop here"):
            splits_for(make_config("ce", "smoke", "fmnist", download=download))
        assert seen == {"name": "fmnist", "download": download}
    with pytest.raises(ValueError, match="download must be True or False"):
        make_config("ce", "smoke", download="yes")
    assert make_config("ce", download=True).cache_key() == make_config("ce").cache_key()


def test_cli_download_flag(monkeypatch):
    from imbalanced_contrastive import cli

    captured = {}

    def fake_run(config, **kwargs):
        captured["download"] = config.download
        raise SystemExit(0)

    monkeypatch.setattr("imbalanced_contrastive.training.runner.run_experiment", fake_run)
    with pytest.raises(SystemExit):
        cli.main(["train", "--method", "ce", "--profile", "smoke", "--download"])
    assert captured == {"download": True}
    assert cli.build_parser().parse_args(["train", "--method", "ce"]).download is False
