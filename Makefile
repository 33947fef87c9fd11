# Quick start: `make run` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make run PHOTO=path` opens that photo in the app.
PHOTO  ?=

.PHONY: setup test test-fast run lint bench bundle clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch is pinned exactly (CPU build). For a CUDA build, install it into .venv first (README).
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,cluster]"
	touch $(STAMP)

# Everything (CI runs this), the import contracts included.
test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# For local work: the tests not marked slow (no trainings, GUI training runs, DDP or bundle).
test-fast: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

run: setup
	$(VENV)/bin/colorizer $(PHOTO)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) benchmarks/bench_colorize.py

# One-folder desktop bundle in dist/colorizer/ (PyInstaller, build.spec), then its self-test.
bundle: setup
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN build.spec
	QT_QPA_PLATFORM=offscreen dist/colorizer/colorizer --self-test

clean:
	rm -rf $(VENV) build dist *.egg-info
