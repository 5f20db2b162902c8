#!/usr/bin/env bash
# One seed of the tuned-against-tuned protocol (README, Measured results): the same Optuna
# budget (10 trials of 60 epochs, the first one the model's defaults) for ours, LightGCN and
# MF-BPR on this seed's validation split, then one `train` with the three best_params files.
# Two tuning chains run side by side on one thread each (ours | LightGCN then MF-BPR), so a
# 2-core machine is busy throughout; seeds can run on separate machines and be combined with
# `python benchmarks/spread_table.py OUT/train-s*.json`.
#
#   bash benchmarks/tuned_against_tuned.sh SNAPSHOT SEED OUT
#
# INTERESTGRAPH names the CLI to run (default .venv/bin/interestgraph); INTERESTGRAPH_HOME is
# where the final run writes its checkpoint and finds the embedding cache, as for any command.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 SNAPSHOT SEED OUT" >&2; exit 2; }
snapshot=$1 seed=$2 out=$3
ig=${INTERESTGRAPH:-.venv/bin/interestgraph}
mkdir -p "$out"

tune() {  # tune MODEL: one study in its own SQLite file (parallel chains never share a lock)
  local model=$1 baseline=()
  [ "$model" = ours ] || baseline=(--baseline "$model")
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$ig" tune --snapshot "$snapshot" --seed "$seed" \
    --trials 10 --epochs 60 "${baseline[@]}" --study "s$seed-$model" \
    --storage "$out/s$seed-$model.sqlite" --json > "$out/tune-s$seed-$model.json"
}

tune ours &
ours=$!
tune lightgcn && tune mf_bpr
wait "$ours"
"$ig" train --snapshot "$snapshot" --seed "$seed" --variants full \
  --baselines popularity,mf_bpr,lightgcn \
  --params "$out/best_params-s$seed-ours.json" --params "$out/best_params-s$seed-lightgcn.json" \
  --params "$out/best_params-s$seed-mf_bpr.json" --json > "$out/train-s$seed.json"
