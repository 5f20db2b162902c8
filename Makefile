# The two quick-start commands (`make demo`, `make test`) set everything up from scratch.
VENV ?= .venv
PY := $(VENV)/bin/python
DATASETS ?= ../shared/datasets

.PHONY: setup setup-dgl browser explorer demo test test-dgl lint bench bench-dgl bench-train bench-scale stop

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench,notebooks,ray]'
	touch $@

# DGL's own pinned environment (requirements-dgl.txt: torch 2.2.1, DGL 2.1.0), never mixed into
# .venv; the project itself goes in without dependencies, from requirements-dgl.txt alone.
DGL_VENV ?= .venv-dgl
setup-dgl: $(DGL_VENV)/.installed

$(DGL_VENV)/.installed: requirements-dgl.txt pyproject.toml
	python3 -m venv $(DGL_VENV)
	$(DGL_VENV)/bin/python -m pip install -q --upgrade pip
	$(DGL_VENV)/bin/python -m pip install -q -r requirements-dgl.txt
	$(DGL_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

demo: setup
	$(VENV)/bin/interestgraph demo --datasets-dir $(DATASETS)

# Debian's Chromium and chromedriver for the explorer's browser tests (apt; sudo when not root)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver)

# Re-vendor the explorer's JS libraries from the npm registry (the results are committed).
explorer:
	cd serving/assets && npm ci --no-audit --no-fund
	cp serving/assets/node_modules/cytoscape/dist/cytoscape.min.js serving/explorer/vendor/
	cp serving/assets/node_modules/cytoscape/LICENSE serving/explorer/vendor/cytoscape.LICENSE

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint browser
	MKL_DYNAMIC=FALSE OMP_DYNAMIC=FALSE INTERESTGRAPH_DATASETS=$(DATASETS) $(PY) -m pytest -q

# The DGL backend against the PyG one on movielens-small (tests/dgl/run.sh; CI's second step).
DGL_HOME ?= build/dgl-home
test-dgl: setup setup-dgl
	bash tests/dgl/run.sh $(DATASETS) $(DGL_HOME)

# Epoch time of the two backends on the same snapshot (after `make test-dgl`, which prepares it).
bench-dgl: setup-dgl
	$(DGL_VENV)/bin/python benchmarks/bench_backends.py --home $(DGL_HOME)

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

# How cost grows with the graph (synthetic snapshots, no Neo4j), and what DDP buys; add DEVICE=cuda.
DEVICE ?= cpu
bench-scale: setup
	$(PY) benchmarks/bench_scale.py --device $(DEVICE)
	$(PY) benchmarks/bench_distributed.py --device $(DEVICE) --nproc $(if $(filter cuda,$(DEVICE)),1,2)

stop:
	$(VENV)/bin/interestgraph db stop
