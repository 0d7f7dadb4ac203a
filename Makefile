# The two commands: `make run` (the whole local stack) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The SAM CLI pins an older boto3 than ours: it gets its own environment (for `sam validate --lint`).
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI_VERSION := 1.170.0
# Two workers (pytest-xdist), whole files each (module fixtures stay shared), each with its own
# session stack: most tests wait on a stack, a browser or an export, so two cores run two at once.
PARALLEL ?= -n 2 --dist loadfile

.PHONY: run test lint typecheck unit integration e2e clean venv browser-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

$(SAM_STAMP):
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $(SAM_STAMP)

run: $(STAMP)
	$(BIN)/hdcn local up $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy backend console tests benchmarks

unit: $(STAMP)
	$(BIN)/pytest -m "unit" -q

integration: $(STAMP)
	$(BIN)/pytest -m "integration" -q

# First, with the system Python and before the venv: no Chromium means no browser tests, so
# say so (with the install command) in the first second instead of after the whole suite.
browser-check:
	@$(PYTHON) tests/browser.py

e2e: browser-check $(STAMP)
	$(BIN)/pytest -m "e2e" -q

test: browser-check lint typecheck $(STAMP) $(SAM_STAMP)
	HDCN_SAM_CLI=$(CURDIR)/$(SAM_VENV)/bin/sam $(BIN)/pytest -q $(PARALLEL)

clean:
	rm -rf $(VENV) $(SAM_VENV) .hdcn .pytest_cache .mypy_cache .ruff_cache
