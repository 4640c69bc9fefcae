# evidence: `make` sets up and runs the main job; `make test` sets up and runs the tests.
# `make help` lists every target.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := all
.PHONY: all help setup validate analyses book serve test lint bench fixtures clean

all: validate analyses book ## Set up, validate the records, run the analyses, build the site
	@echo "Site built: open build/site/index.html (or run 'make serve')."

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Exact versions of every package (direct and transitive) come from constraints.txt, made
# from a working venv with `pip freeze --exclude-editable > constraints.txt`.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the package, site toolchain and test/lint tools (pinned)

validate: $(STAMP) ## Check every study record and the bibliography
	$(BIN)/evidence validate studies

analyses: $(STAMP) ## Run every analysis in analyses/ (only those whose inputs changed) and its history
	$(BIN)/evidence run
	$(BIN)/evidence history

book: $(STAMP) ## Build the evidence site into build/site/ (offline)
	$(BIN)/evidence book

serve: ## Serve build/site/ on http://127.0.0.1:8000
	$(BIN)/python -m http.server --directory build/site --bind 127.0.0.1 8000

test: $(STAMP) ## Run the test suite
	$(BIN)/pytest

lint: $(STAMP) ## Formatting, ruff checks, the layer contracts (import-linter) and types (mypy)
	$(BIN)/ruff format --check evidence tests benchmarks
	$(BIN)/ruff check evidence tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

bench: $(STAMP) ## Run the benchmarks and record their figures in benchmarks/
	$(BIN)/python benchmarks/run_all.py

fixtures: ## Regenerate tests/reference/*.json with R metafor (needs Rscript; CI does not)
	cd tests/reference && Rscript make_fixtures.R && Rscript make_diagnostics_fixtures.R \
		&& Rscript make_multivariate_fixtures.R && Rscript make_metafor15_fixtures.R \
		&& Rscript make_diagnostics15_fixtures.R && Rscript make_published_data.R

clean: ## Remove build outputs (keeps .venv)
	rm -rf build book/_generated book/_build
