# The README's commands. Each bootstraps a virtual environment in .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: report test fuzz lint format lab bench clean help

help:
	@echo "make report  - write the Excel and HTML reports under reports/ (embedded defaults)"
	@echo "make test    - lint and run the whole test suite, notebooks included"
	@echo "make lab     - open JupyterLab on notebooks/"
	@echo "make bench   - run the benchmarks (prints tickets/s and peak memory)"
	@echo "make fuzz    - the hostile-input suite with the long Hypothesis profile, then the census"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required (found %s); set PYTHON=python3.11" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name kenolib --display-name "Python (kenolib)" >/dev/null
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/kenolib report

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest --nbmake tests notebooks

fuzz: $(STAMP)
	KENOLIB_FUZZ=long $(BIN)/python -m pytest tests/test_fuzz.py tests/test_hostile.py
	$(BIN)/python benchmarks/hostile_census.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_crossref.py
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) reports/*.xlsx reports/*.html data/processed/*
