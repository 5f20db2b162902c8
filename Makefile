# The two quick-start commands (`make demo`, `make test`) set everything up from scratch.
VENV ?= .venv
PY := $(VENV)/bin/python
DATASETS ?= ../shared/datasets

.PHONY: setup demo test lint bench stop

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

demo: setup
	$(VENV)/bin/interestgraph demo --datasets-dir $(DATASETS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	INTERESTGRAPH_DATASETS=$(DATASETS) $(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_ingest.py --datasets-dir $(DATASETS)
	$(PY) benchmarks/bench_encoder.py --datasets-dir $(DATASETS)

stop:
	$(VENV)/bin/interestgraph db stop
