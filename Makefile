# Two commands do everything: `make book` and `make test`. Each creates or updates .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROFILE ?= cpu
PART    ?=
GH_REMOTE ?= origin
NOTEBOOKS := $(basename $(notdir $(wildcard notebooks/*.ipynb)))
# The offline datasets beside the checkout, unless MEMLIB_DATA says otherwise.
export MEMLIB_DATA ?= $(abspath $(wildcard ../shared/datasets))

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --progress-bar off -e ".[dev]"
	$(PY) -c "import torch, torchvision, backpack, papermill, nbval"
	touch $(STAMP)

.PHONY: help venv book test unit nbval html browser publish smoke bench lint clean
help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

venv: $(STAMP)  ## create or update the virtual environment .venv

book: $(STAMP)  ## execute the notebooks (PROFILE=cpu; PART=<name>: one part) with papermill, then build the HTML book
	$(PY) -m memlib build --profile $(PROFILE) $(if $(PART),--part $(PART))

test: unit nbval browser  ## unit tests, nbval on the smoke notebooks, the book build and its browser test

unit: $(STAMP)  ## unit tests only (not the browser test)
	$(PY) -m pytest tests -m "not browser"

nbval: $(STAMP)  ## re-execute notebooks/ (smoke outputs) and compare the claim checks
	MEMLIB_CACHE=$$(mktemp -d) $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with .nbval-sanitize.cfg \
		notebooks

html: $(STAMP)  ## build the HTML from the committed notebooks, without executing them
	$(PY) -m memlib build --no-execute

browser: html  ## every page of the HTML in headless Chromium; screenshots in _build/screenshots
	$(PY) -m pytest tests/test_browser.py -m browser

publish: html  ## push the HTML to the gh-pages branch of GH_REMOTE (origin) with ghp-import
	$(VENV)/bin/ghp-import --no-jekyll --push --force --remote $(GH_REMOTE) --branch gh-pages \
		--message "Book built from $$(git rev-parse --short HEAD)" _build/html

smoke: $(STAMP)  ## refresh the smoke-profile outputs of notebooks/ (what nbval compares)
	for nb in $(NOTEBOOKS); do $(PY) -m memlib run $$nb --profile smoke; done

bench: $(STAMP)  ## benchmarks: turn-over step; gradients vs BackPACK; VGG-11 levers; ensembles; stacked CNNs/MLPs
	$(PY) benchmarks/bench_step.py
	$(PY) benchmarks/bench_gradients.py
	$(PY) benchmarks/bench_vgg.py
	$(PY) benchmarks/bench_ensemble.py
	$(PY) benchmarks/bench_natural.py

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check memlib tests benchmarks
	$(PY) -m ruff format --check memlib tests benchmarks

clean:  ## remove the build, the caches and results (not .venv)
	rm -rf _build .cache results
