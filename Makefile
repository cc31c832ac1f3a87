# The README's commands. Each bootstraps a virtual environment in .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: report test fuzz lint typecheck format lab bench train calibrate clean clean-notebooks help

help: ## list the targets with what each does (from these comments)
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-zA-Z_-]+):.*## (.*)/make \1\t- \2/' | expand -t 16

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required (found %s); set PYTHON=python3.11" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

report: $(STAMP) ## write the Excel and HTML reports under reports/ (embedded defaults)
	$(BIN)/kenolib report

test: $(STAMP) ## lint, type-check and run the whole test suite, notebooks included (reports go to a temporary folder)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	tmp=$$(mktemp -d) && KENOLIB_REPORTS_DIR=$$tmp $(BIN)/python -m pytest --nbmake tests notebooks; rc=$$?; rm -rf "$$tmp"; exit $$rc

fuzz: $(STAMP) ## the hostile-input suite with the long Hypothesis profile, then the census
	KENOLIB_FUZZ=long $(BIN)/python -m pytest tests/test_fuzz.py tests/test_hostile.py
	$(BIN)/python benchmarks/hostile_census.py

lint: $(STAMP) ## ruff check and format check only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the library ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

format: $(STAMP) ## fix lint and formatting in place
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lab: $(STAMP) ## open JupyterLab on notebooks/
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: $(STAMP) ## run the benchmarks (prints tickets/s and peak memory)
	$(BIN)/python benchmarks/bench_crossref.py
	$(BIN)/python benchmarks/bench_report.py

train: $(STAMP) ## fit the classifier's learned component on the labelled sets (kenolib train)
	$(BIN)/kenolib train

calibrate: $(STAMP) ## fit the confidence table and review threshold (kenolib calibrate)
	$(BIN)/kenolib calibrate

clean-notebooks: $(STAMP) ## clear the notebooks' outputs (after saving them in JupyterLab) and re-pair them with their .py
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/*.ipynb
	$(BIN)/jupytext --sync notebooks/*.py

clean: ## remove .venv and generated reports
	rm -rf $(VENV) reports/*.xlsx reports/*.html data/processed/*
