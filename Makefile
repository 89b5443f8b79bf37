# The two-command quick start: `make run` and `make test`. Both go through `make setup`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.ondo-setup-stamp
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1

.PHONY: setup run test test-fast lint bench clean-venv system-deps

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt scripts/setup.sh
	bash scripts/setup.sh "$(VENV)"
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

run: setup
	$(VENV)/bin/ondo demo

test: setup
	$(PY) -m pytest -m "not slow" -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

bench: setup
	$(PIP) install -q -r benchmarks/requirements.txt
	$(PY) -m pytest -m slow -q -p no:cacheprovider
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
