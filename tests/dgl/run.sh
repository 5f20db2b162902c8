#!/usr/bin/env bash
# `make test-dgl`: movielens-small loaded into a local Neo4j of its own, embedded, exported and
# split by the main environment; the DGL tests in .venv-dgl (both backends, the DGL checkpoint);
# then the main environment's `predict` scores that checkpoint and writes it into the graph.
set -euo pipefail
datasets=$1
export INTERESTGRAPH_HOME=$(realpath -m "$2") INTERESTGRAPH_DGL_HOME=$(realpath -m "$2")
export MKL_DYNAMIC=FALSE OMP_DYNAMIC=FALSE
main=.venv/bin/interestgraph
mkdir -p "$INTERESTGRAPH_HOME"
trap '$main db stop --json >/dev/null || true' EXIT
$main db start --json >/dev/null
if [ ! -f "$INTERESTGRAPH_HOME/snapshot/manifest.json" ]; then
  $main ingest movielens-small --data-dir "$datasets/movielens-small" --json >/dev/null
  $main embed --json >/dev/null
  $main export --out "$INTERESTGRAPH_HOME/snapshot" --json >/dev/null
fi
$main prepare-split --seeds 0,1,2 --json >/dev/null
.venv-dgl/bin/python -m pytest -q -p no:cacheprovider tests/dgl
$main predict --checkpoint "$INTERESTGRAPH_HOME/checkpoint-dgl" --k 10 --paths 0 --json \
  > "$INTERESTGRAPH_HOME/predict.json"
$main query --json "MATCH (r:PredictionRun {status: 'current'}) MATCH (:User)-[p:PREDICTED_ITEM {run: r.id}]->() RETURN r.checkpoint AS checkpoint, count(p) AS edges" \
  > "$INTERESTGRAPH_HOME/predicted.json"
.venv/bin/python - "$INTERESTGRAPH_HOME" <<'PY'
import json, sys
from pathlib import Path
home = Path(sys.argv[1])
run = json.loads((home / "predict.json").read_text())
(row,) = json.loads((home / "predicted.json").read_text())["rows"]
assert run["status"] == "current" and row["checkpoint"].endswith("checkpoint-dgl"), (run, row)
assert row["edges"] > 0, row
parity = json.loads((home / "parity.json").read_text())
print(f"predict on the DGL checkpoint: {row['edges']} PREDICTED_ITEM edges, run {run['run'][:12]}")
for backend, values in parity["recall@20"].items():
    seconds = parity["seconds_per_epoch"][backend]
    print(f"{backend}: Recall@20 {values} ({sum(seconds) / len(seconds):.2f} s/epoch)")
PY
