# The README's two commands: `make book` and `make test`. Each target sets itself up:
# a .venv with the pinned packages (requirements.txt), the package in editable mode, and the
# Debian Fashion-MNIST files where apt-get is available. Re-running is fast once set up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST_DIR := /usr/share/datasets/fashion-mnist
PROFILE ?= full
PYTEST_ARGS ?=

.PHONY: setup data browser test test-fast book notebooks execute lint format clean device-check colab-chapters grid

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

setup: $(STAMP)

# Fashion-MNIST from Debian (offline). Elsewhere, see README: the library can also read a folder
# or download with torchvision where the internet is reachable.
data:
	@if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ] && [ -f $(FMNIST_DIR)/t10k-labels-idx1-ubyte.gz ]; then \
		echo "Fashion-MNIST: $(FMNIST_DIR)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Fashion-MNIST from Debian (dataset-fashion-mnist)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null \
		|| echo "warning: apt-get could not install dataset-fashion-mnist; the notebooks download it (download=True)"; \
	else \
		echo "warning: Fashion-MNIST not installed and apt-get unavailable (or not root);"; \
		echo "         run 'sudo apt-get install dataset-fashion-mnist' or see README 'Data'."; \
	fi

# Headless Chromium for the test that opens the built book (Debian's package).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing Chromium from Debian (for the rendered-book test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "warning: chromium is not installed; the rendered-book test will fail (apt-get install chromium)"; \
	fi

# Lint and format check (ruff, configured in pyproject.toml): the library, tools, tests, benchmarks
# and the notebooks' .ipynb. `make format` rewrites what `ruff format` would change.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The whole suite, what CI runs; the 20 slowest tests are listed at the end.
test: setup data browser lint
	@$(PY) -m pytest --durations=20 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The edit-test loop: everything but the tests marked slow (the books, kernels, the Colab
# rehearsal, real-data training), in about a minute. `make test` still runs them all.
test-fast: setup data lint
	@$(PY) -m pytest -m "not slow" --durations=10 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Chapters are text notebooks (notebooks/NN_name.md, MyST); sync them with their .ipynb after an edit.
notebooks: setup
	$(PY) tools/notebooks.py

# Execute the notebooks into book/_generated without building the site.
execute: setup data
	$(PY) tools/build_book.py --profile $(PROFILE) --execute-only

book: setup data
	$(PY) tools/build_book.py --profile $(PROFILE)

# The committed records (results/): every benchmark method x 3 seeds of a profile, resumable;
# `make grid DEVICE=cuda` on a GPU. Run it from a clean commit (records name their commit).
GRID_PROFILE ?= full
grid: setup data
	$(PY) -m imbalanced_contrastive grid --profile $(GRID_PROFILE) $(if $(DEVICE),--device $(DEVICE))

clean:
	rm -rf book/_build book/_generated .pytest_cache

# The device check (benchmarks/device_check.py): sync-free steps, fp16 and bf16, deterministic
# resume and throughput of every method on a CUDA machine; one JSON summary ($OUT/device_check.json
# where $OUT is set). `make device-check DRY_RUN=1` rehearses it on the CPU.
device-check: setup data
	$(PY) benchmarks/device_check.py $(if $(DRY_RUN),--dry-run) --out $(if $(OUT),$(OUT)/device_check.json,device_check.json)

# The primer and the ACL chapter as Colab runs them (the weekly `colab` workflow runs this inside
# Colab's own runtime image): the committed .ipynb with its install cell (the tagged release, as
# readers get it), executed by papermill in the smoke profile with the image's Python.
COLAB_PYTHON ?= python3
COLAB_CHAPTERS := notebooks/01_primer.ipynb notebooks/02_acl_fmnist.ipynb
colab-chapters:
	$(COLAB_PYTHON) -m pip install --quiet papermill
	@# Colab's kernel imports google.colab when it starts (the install cell looks for it)
	@mkdir -p $$HOME/.ipython/profile_default/startup colab-out
	@echo "import google.colab  # as Colab's runtime does" > $$HOME/.ipython/profile_default/startup/00-colab.py
	@for nb in $(COLAB_CHAPTERS); do \
		echo "running $$nb as Colab does (smoke profile)"; \
		$(COLAB_PYTHON) -m papermill --log-output $$nb colab-out/$$(basename $$nb) -p profile smoke || exit 1; \
	done
