"""Training speed from a snapshot alone (no Neo4j, no encoder): the GPU-machine path.

Reads a snapshot and the user features a checkpoint saved, builds the default split, and times
epochs of our default model and of PyG's LightGCN on each device asked for, in the same run;
then batch top-K scoring of every user on each device. Prints one JSON object.

    python benchmarks/bench_train.py --snapshot DIR --checkpoint DIR [--devices cpu,cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from graphdb.snapshot import read_snapshot
from training.experiment import ModelConfig, prepare, train_model
from training.loop import FitConfig
from training.scoring import known_links, top_k


def epoch_seconds(prepared, name: str, device: torch.device, epochs: int) -> dict:
    config = replace(ModelConfig(), fit=FitConfig(epochs=epochs, eval_every=epochs, patience=99))
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    model, graph, result = train_model(name, prepared, config, device, seed=0, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return (
        {
            "seconds_per_epoch": round(result.seconds_per_epoch, 4),
            "wall_seconds": round(seconds, 2),
            "val_recall@20": round(result.best_value, 5),
        },
        model,
        graph,
    )


def scoring(model, graph, prepared, device: torch.device, k: int = 20) -> dict:
    with torch.no_grad():
        emb = model.embed(graph)
    users = np.arange(graph.num_nodes["user"])
    known = known_links(prepared.pairs["user_item"], len(users))
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in top_k(
        lambda rows: model.matrix(emb, "user_item", rows),
        users,
        graph.num_nodes["item"],
        k,
        known,
        device,
    ):
        pass
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "users": len(users),
        "seconds": round(seconds, 4),
        "users_per_second": round(len(users) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True, help="for user_features.npy")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    snapshot = read_snapshot(args.snapshot)
    features = np.load(args.checkpoint / "user_features.npy")
    width = features.shape[1]
    # speed does not depend on the feature values: no encoder on the GPU box, the checkpoint's
    # user features and the graph's own item embeddings stand in for the rebuilt texts
    prepared = prepare(
        snapshot, "user-random", 0, lambda texts: np.zeros((len(texts), width), np.float32)
    )
    prepared.user_features, prepared.item_features = features, snapshot.embeddings["item"]
    report: dict = {"snapshot": snapshot.manifest.get("name"), "epochs": args.epochs, "devices": {}}
    for name in args.devices.split(","):
        if name.startswith("cuda") and not torch.cuda.is_available():
            sys.stderr.write(f"skip {name}: no CUDA device\n")
            continue
        device = torch.device(name)
        ours, model, graph = epoch_seconds(prepared, "ours", device, args.epochs)
        lightgcn, _, _ = epoch_seconds(prepared, "lightgcn", device, args.epochs)
        report["devices"][name] = {
            "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "ours": ours,
            "lightgcn": lightgcn,
            "scoring": scoring(model, graph, prepared, device),
        }
    devices = report["devices"]
    if "cpu" in devices and "cuda" in devices:
        report["cuda_speedup_ours"] = round(
            devices["cpu"]["ours"]["seconds_per_epoch"]
            / devices["cuda"]["ours"]["seconds_per_epoch"],
            2,
        )
        report["cuda_speedup_scoring"] = round(
            devices["cpu"]["scoring"]["seconds"] / devices["cuda"]["scoring"]["seconds"], 2
        )
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
