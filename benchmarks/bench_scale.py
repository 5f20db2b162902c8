"""How cost grows with the graph: synthetic power-law graphs of several sizes (no Neo4j), each
measured in a fresh process so that its peak memory is its own.

Per size: the split and graph build, one training step of our default model (full-graph
propagation, a batch of 4,096 positive edges with negatives, backward, Adam) timed over a few
steps after a warm-up, the epoch time that implies (steps per epoch × step time: a full
epoch at a million users would take hours here), the inference embedding (one propagation
without gradients), and top-20 scoring timed over up to 20,000 users and scaled to all of
them (scoring is linear in users: the chunks are independent). Then the growth exponent b of
``cost ≈ a · users^b`` fitted by least squares on log–log, for each figure.

    python benchmarks/bench_scale.py [--users 10000,31623,100000,316228,1000000] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gnn.graph import Graph
from graphdb.synthetic import SyntheticShape, synthetic_snapshot
from training.experiment import ModelConfig, Prepared, build_model, graph_for, prepare

#: timed steps per size, after one warm-up step
STEPS = 3
#: users whose top-K are timed (the rest scale linearly)
SCORED_USERS = 20_000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class Setup:
    """A synthetic graph of one size, split, with our default model on ``device``."""

    shape: SyntheticShape
    prepared: Prepared
    graph: Graph
    model: torch.nn.Module
    config: ModelConfig
    generate_seconds: float
    prepare_seconds: float


def synthetic_setup(users: int, device: torch.device) -> Setup:

    started = time.perf_counter()
    shape = SyntheticShape(users=users, items=max(1_000, users // 20), dims=64)
    snapshot = synthetic_snapshot(shape)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    # features' values do not change the cost: the snapshot's random vectors stand in for texts
    prepared = prepare(
        snapshot, "user-random", 0, lambda texts: np.zeros((len(texts), shape.dims), np.float32)
    )
    prepared.user_features = snapshot.embeddings["user"]
    config = ModelConfig()
    torch.manual_seed(0)
    graph = graph_for(prepared, config).to(device)
    model = build_model("ours", config, graph).to(device)
    return Setup(shape, prepared, graph, model, config, generated, time.perf_counter() - started)


def step_seconds(setup: Setup, device: torch.device, steps: int = STEPS) -> float:
    """Median seconds of one training step (after a warm-up): full-graph propagation, this
    rank's slice of a global batch with its negatives, backward through DDP when a process
    group is open, Adam."""
    from training.distributed import data_parallel, my_slice
    from training.loop import StepLoss, sample_negatives

    fit = setup.config.fit
    step_loss = data_parallel(StepLoss(setup.model, setup.graph, fit), device)
    optimizer = torch.optim.Adam(setup.model.parameters(), lr=fit.lr)
    generator = torch.Generator().manual_seed(0)
    edges = torch.from_numpy(setup.prepared.pairs["user_item"]).to(device)
    pool = torch.unique(edges[1])
    width = setup.graph.num_nodes["item"]
    known = torch.sort(edges[0] * width + edges[1]).values
    times = []
    for step in range(steps + 1):
        batch = torch.randint(0, edges.shape[1], (fit.batch_size,), generator=generator)
        positive = edges[:, batch.to(device)]
        negative, valid = sample_negatives(positive[0], pool, known, width, generator)
        mine = my_slice(torch.nonzero(valid).flatten())
        _sync(device)
        clock = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            loss = step_loss({"user_item": (positive[:, mine], negative[mine])})
        loss.backward()
        optimizer.step()
        _sync(device)
        if step > 0:
            times.append(time.perf_counter() - clock)
    return float(np.median(times))


def measure(users: int, device: torch.device) -> dict:
    """All figures for one size, in this process."""
    from training.scoring import known_links, top_k

    setup = synthetic_setup(users, device)
    seconds = step_seconds(setup, device)
    edges = setup.prepared.pairs["user_item"].shape[1]
    steps_per_epoch = -(-edges // setup.config.fit.batch_size)
    model, graph = setup.model.eval(), setup.graph
    _sync(device)
    clock = time.perf_counter()
    with torch.no_grad():
        emb = model.embed(graph)
    _sync(device)
    embed_seconds = time.perf_counter() - clock
    scored = np.arange(min(users, SCORED_USERS))
    target = "user_item"
    known_pairs = known_links(setup.prepared.pairs[target], users)
    clock = time.perf_counter()
    for _ in top_k(
        lambda rows: model.matrix(emb, target, rows),
        scored,
        graph.num_nodes["item"],
        20,
        known_pairs,
        device,
    ):
        pass
    _sync(device)
    score_seconds = (time.perf_counter() - clock) * users / len(scored)
    report = {
        "users": users,
        "items": setup.shape.items,
        "training_edges": int(edges),
        "generate_seconds": round(setup.generate_seconds, 2),
        "prepare_seconds": round(setup.prepare_seconds, 2),
        "step_seconds": round(seconds, 4),
        "steps_per_epoch": int(steps_per_epoch),
        "epoch_seconds": round(seconds * steps_per_epoch, 1),
        "embed_seconds": round(embed_seconds, 3),
        "score_all_users_seconds": round(score_seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if device.type == "cuda":
        report["cuda_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return report


def growth_exponent(sizes: list[int], values: list[float]) -> float:
    """b of ``value ≈ a · size^b`` (least squares on log–log)."""
    slope, _ = np.polyfit(np.log(sizes), np.log(values), 1)
    return round(float(slope), 2)


FIGURES = (
    "prepare_seconds",
    "step_seconds",
    "epoch_seconds",
    "embed_seconds",
    "score_all_users_seconds",
    "peak_rss_mib",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", default="10000,31623,100000,316228,1000000")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child's single size
    args = parser.parse_args()
    if args.one:
        sys.stdout.write(json.dumps(measure(args.one, torch.device(args.device))) + "\n")
        return
    rows = []
    for users in (int(u) for u in args.users.split(",")):
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(users), "--device", args.device],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            raise SystemExit(f"size {users} failed")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        sys.stderr.write(json.dumps(rows[-1]) + "\n")
    sizes = [r["users"] for r in rows]
    report = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "sizes": rows,
        "growth_exponent_in_users": {
            f: growth_exponent(sizes, [max(r[f], 1e-6) for r in rows]) for f in FIGURES
        },
    }
    keys = ["users", "training_edges", *FIGURES]
    lines = [" | ".join(keys), " | ".join("---" for _ in keys)]
    lines += [" | ".join(str(r[k]) for k in keys) for r in rows]
    lines.append(
        " | ".join(
            ["growth exponent", ""] + [str(report["growth_exponent_in_users"][f]) for f in FIGURES]
        )
    )
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
