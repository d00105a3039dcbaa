# Two commands do everything: `make book` and `make test`. Each creates or updates .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= cpu
NOTEBOOKS := $(basename $(notdir $(wildcard notebooks/*.ipynb)))
# The offline datasets beside the checkout, unless MEMLIB_DATA says otherwise.
export MEMLIB_DATA ?= $(abspath $(wildcard ../shared/datasets))

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --progress-bar off -e ".[dev]"
	$(PY) -c "import torch, torchvision, backpack, papermill, nbval"
	touch $(STAMP)

.PHONY: help venv book test unit nbval html smoke bench lint clean
help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

venv: $(STAMP)  ## create or update the virtual environment .venv

book: $(STAMP)  ## execute every notebook (PROFILE=cpu) with papermill, then build the HTML book
	$(PY) -m memlib build --profile $(PROFILE)

test: unit nbval html  ## unit tests, nbval on the smoke notebooks, and the book build

unit: $(STAMP)  ## unit tests only
	$(PY) -m pytest tests

nbval: $(STAMP)  ## re-execute notebooks/ (smoke outputs) and compare the claim checks
	MEMLIB_CACHE=$$(mktemp -d) $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with .nbval-sanitize.cfg \
		notebooks

html: $(STAMP)  ## build the HTML from the committed notebooks, without executing them
	$(PY) -m memlib build --no-execute

smoke: $(STAMP)  ## refresh the smoke-profile outputs of notebooks/ (what nbval compares)
	for nb in $(NOTEBOOKS); do $(PY) -m memlib run $$nb --profile smoke; done

bench: $(STAMP)  ## benchmarks: turn-over step; gradients vs BackPACK; VGG-11 levers; ensembles
	$(PY) benchmarks/bench_step.py
	$(PY) benchmarks/bench_gradients.py
	$(PY) benchmarks/bench_vgg.py
	$(PY) benchmarks/bench_ensemble.py

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check memlib tests benchmarks
	$(PY) -m ruff format --check memlib tests benchmarks

clean:  ## remove the build, the caches and results (not .venv)
	rm -rf _build .cache results
