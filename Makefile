# Quick start: `make run` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# What `make run` colorizes, and where it writes.
INPUT  ?= resources/samples
OUTPUT ?= output
MODEL  ?=

.PHONY: setup test run lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch is pinned exactly (CPU build). For a CUDA build, install it into .venv first (README).
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

run: setup
	$(VENV)/bin/colorizer colorize $(INPUT) -o $(OUTPUT) $(if $(MODEL),--model $(MODEL))

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) benchmarks/bench_colorize.py

clean:
	rm -rf $(VENV) build dist *.egg-info
