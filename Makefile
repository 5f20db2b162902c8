# The two quick-start commands (`make demo`, `make test`) set everything up from scratch.
VENV ?= .venv
PY := $(VENV)/bin/python
DATASETS ?= ../shared/datasets

.PHONY: setup demo test lint bench bench-train stop

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
	MKL_DYNAMIC=FALSE OMP_DYNAMIC=FALSE INTERESTGRAPH_DATASETS=$(DATASETS) $(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_ingest.py --datasets-dir $(DATASETS)
	$(PY) benchmarks/bench_encoder.py --datasets-dir $(DATASETS)
	$(PY) benchmarks/bench_predict.py --neo4j
	$(PY) benchmarks/bench_serving.py   # needs a current prediction run (make demo)

# Training speed from a snapshot and checkpoint (e.g. after `make demo`); add DEVICES=cpu,cuda on a GPU box.
SNAPSHOT ?= $(HOME)/.interestgraph/snapshot
CHECKPOINT ?= $(HOME)/.interestgraph/checkpoint
DEVICES ?= cpu,cuda
bench-train: setup
	$(PY) benchmarks/bench_train.py --snapshot $(SNAPSHOT) --checkpoint $(CHECKPOINT) --devices $(DEVICES)

stop:
	$(VENV)/bin/interestgraph db stop
