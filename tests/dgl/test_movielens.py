"""Both backends on movielens-small's user-random split: test Recall@20 agrees within the seed
spread, ``train --backend dgl`` runs from the snapshot alone (no Neo4j, no text encoder) and
writes a checkpoint whose PyG rebuild, what ``predict`` loads, scores as the DGL model does."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import torch

from features.encoder import DEFAULT_MODEL
from training.checkpoint import load_checkpoint
from training.experiment import (
    ModelConfig,
    evaluate_model,
    graph_for,
    load_trained,
    ranking_tasks,
    train_model,
)
from training.jobs import SplitSpec, open_snapshot, prepare_split, user_text_encoder
from training.loop import FitConfig

SEEDS = (0, 1, 2)
#: a short schedule: the comparison is between backends, not against the README's figures
FIT = FitConfig(epochs=10, eval_every=5, patience=2)


def test_recall_agrees_within_the_seed_spread(dgl_home: Path) -> None:
    snapshot = open_snapshot(dgl_home / "snapshot")
    encode = user_text_encoder(snapshot, DEFAULT_MODEL, "cpu", dgl_home / "embeddings.sqlite")
    device = torch.device("cpu")
    recall: dict[str, list[float]] = {"pyg": [], "dgl": []}
    seconds: dict[str, list[float]] = {"pyg": [], "dgl": []}
    for seed in SEEDS:
        prepared = prepare_split(snapshot, SplitSpec(), seed, encode)
        for backend in recall:
            config = ModelConfig(backend=backend, fit=FIT)
            model, graph, result = train_model(
                "ours", prepared, config, device, seed, progress=False
            )
            metrics = evaluate_model(model, graph, ranking_tasks(prepared, graph, "test"), device)
            recall[backend].append(metrics["user_item"]["recall@20"])
            seconds[backend].append(result.seconds_per_epoch)
    (dgl_home / "parity.json").write_text(  # the README's figures; tests/dgl/run.sh prints it
        json.dumps(
            {
                "split": "user-random",
                "seeds": list(SEEDS),
                "epochs": FIT.epochs,
                "recall@20": recall,
                "seconds_per_epoch": seconds,
                "threads": torch.get_num_threads(),
            },
            indent=2,
        )
    )
    spread = max(statistics.stdev(r) for r in recall.values())
    gap = abs(statistics.mean(recall["dgl"]) - statistics.mean(recall["pyg"]))
    assert gap <= spread, (recall, spread)


def test_train_with_dgl_from_the_snapshot_alone(dgl_home: Path) -> None:
    out = dgl_home / "checkpoint-dgl"
    env = {**os.environ, "INTERESTGRAPH_HOME": str(dgl_home), "NEO4J_URI": "bolt://127.0.0.1:9"}
    command = [
        str(Path(sys.executable).parent / "interestgraph"),
        *("train", "--backend", "dgl", "--snapshot", str(dgl_home / "snapshot")),
        *("--variants", "full", "--baselines", "popularity", "--epochs", "10"),
        *("--out", str(out), "--json"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(done.stdout)
    assert (
        payload["metrics"]["user_item"]["recall@20"]
        > payload["baselines"]["popularity"]["user_item"]["recall@20"]
    )
    info = json.loads((out / "config.json").read_text())
    assert {c["backend"] for c in info["target_models"].values()} == {"dgl"}

    checkpoint = load_checkpoint(out)
    pyg_configs = checkpoint.target_configs
    assert {c.backend for c in pyg_configs.values()} == {"pyg"}
    snapshot = open_snapshot(dgl_home / "snapshot")
    encode = user_text_encoder(snapshot, DEFAULT_MODEL, "cpu", dgl_home / "embeddings.sqlite")
    prepared = prepare_split(snapshot, SplitSpec(), 0, encode)
    graph = graph_for(prepared, next(iter(pyg_configs.values())))
    dgl_configs = {t: replace(c, backend="dgl") for t, c in pyg_configs.items()}
    users = torch.arange(50)
    scores = {}
    for name, configs in (("pyg", pyg_configs), ("dgl", dgl_configs)):
        model = load_trained(configs, graph, checkpoint.state)
        with torch.no_grad():
            emb = model.embed(graph)
            scores[name] = {t: model.matrix(emb, t, users) for t in model.targets}
    for target, expected in scores["pyg"].items():
        torch.testing.assert_close(scores["dgl"][target], expected, rtol=1e-4, atol=1e-5)
