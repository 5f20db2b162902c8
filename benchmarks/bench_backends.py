"""Epoch time of our default model on the PyG and the DGL backend, on the same snapshot and
split, in one process (run it in the DGL environment: ``make bench-dgl``). The backends take
turns, so machine noise falls on both; prints one JSON object with the ratio.

    .venv-dgl/bin/python benchmarks/bench_backends.py --home build/dgl-home [--epochs 5]

The home needs a snapshot and an embedding cache warm for seed 0 (``make test-dgl`` leaves one,
or run ``interestgraph prepare-split`` in the main environment).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from features.encoder import DEFAULT_MODEL
from training.experiment import ModelConfig, train_model
from training.jobs import SplitSpec, open_snapshot, prepare_split, user_text_encoder
from training.loop import FitConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    snapshot = open_snapshot(args.home / "snapshot")
    encode = user_text_encoder(snapshot, DEFAULT_MODEL, "cpu", args.home / "embeddings.sqlite")
    prepared = prepare_split(snapshot, SplitSpec(), 0, encode)
    fit = FitConfig(epochs=args.epochs, eval_every=args.epochs, patience=99)
    seconds: dict[str, list[float]] = {"pyg": [], "dgl": []}
    for _ in range(args.repeats):
        for backend in seconds:
            config = ModelConfig(backend=backend, fit=fit)
            _, _, result = train_model(
                "ours", prepared, config, torch.device("cpu"), seed=0, progress=False
            )
            seconds[backend].append(result.seconds_per_epoch)
    median = {b: statistics.median(s) for b, s in seconds.items()}
    sys.stdout.write(
        json.dumps(
            {
                "dataset": prepared.dataset,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "epochs": args.epochs,
                "seconds_per_epoch": seconds,
                "median": median,
                "dgl_over_pyg": round(median["dgl"] / median["pyg"], 3),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
