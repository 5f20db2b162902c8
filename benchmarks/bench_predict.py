"""Batch scoring throughput against the machine's own matrix-multiply rate, in the same run.

1. Ratio: our chunked top-K (matrix product + mask of known links + topk) over U users × N
   items, as FLOP/s of its matrix products, divided by the FLOP/s of the bare matrix products of
   the same chunks. Target >= 50%.
2. Scale: 100,000 users × 50,000 items, K = 50, dim 64: time and peak memory (RSS on CPU,
   allocator peak on CUDA), which the chunking bounds.
3. Write throughput: predictions written to a throwaway local Neo4j (relationships/s) by 1,
   2 and 4 writer threads, as ratios to one writer, when ``--neo4j`` is given.

    python benchmarks/bench_predict.py [--device cpu|cuda] [--neo4j]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from training.scoring import chunk_size, known_links, top_k


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def synthetic(
    users: int, items: int, dim: int, known_per_user: int, device: torch.device, seed: int = 0
):
    generator = torch.Generator().manual_seed(seed)
    u = torch.randn(users, dim, generator=generator).to(device)
    v = torch.randn(items, dim, generator=generator).to(device)
    rng = np.random.default_rng(seed)
    pairs = np.stack(
        [
            np.repeat(np.arange(users), known_per_user),
            rng.integers(0, items, users * known_per_user),
        ]
    )
    return u, v, known_links(pairs, users)


def scoring_vs_matmul(users: int, items: int, dim: int, k: int, device: torch.device) -> dict:
    u, v, known = synthetic(users, items, dim, 20, device)
    chunk = chunk_size(items)
    flops = 2.0 * users * items * dim

    def bare() -> None:
        for start in range(0, users, chunk):
            (u[start : start + chunk] @ v.T).max()  # consume the product so it is not skipped

    def ours() -> None:
        for _ in top_k(
            lambda rows: u[rows] @ v.T, np.arange(users), items, k, known, device, chunk
        ):
            pass

    timings = {}
    for name, fn in (("matmul", bare), ("scoring", ours), ("matmul", bare), ("scoring", ours)):
        _sync(device)
        started = time.perf_counter()
        fn()
        _sync(device)
        timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - started)
    return {
        "users": users,
        "items": items,
        "dim": dim,
        "k": k,
        "chunk_users": chunk,
        "matmul_gflops": round(flops / timings["matmul"] / 1e9, 2),
        "scoring_gflops": round(flops / timings["scoring"] / 1e9, 2),
        "scoring_users_per_second": round(users / timings["scoring"], 1),
        "ratio": round(timings["matmul"] / timings["scoring"], 3),
    }


def scale_run(device: torch.device, users: int = 100_000, items: int = 50_000, k: int = 50) -> dict:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    u, v, known = synthetic(users, items, 64, 20, device)
    _sync(device)
    started = time.perf_counter()
    count = 0
    for block in top_k(lambda rows: u[rows] @ v.T, np.arange(users), items, k, known, device):
        count += block.items.size
    _sync(device)
    seconds = time.perf_counter() - started
    report = {
        "users": users,
        "items": items,
        "k": k,
        "predictions": count,
        "seconds": round(seconds, 2),
        "chunk_users": chunk_size(items),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_growth_mib": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1
        ),
        "dense_scores_would_need_mib": round(users * items * 4 / 2**20, 1),
    }
    if device.type == "cuda":
        report["cuda_peak_allocated_mib"] = round(
            torch.cuda.max_memory_allocated(device) / 2**20, 1
        )
    return report


def write_throughput(
    users: int = 4_000,
    items: int = 5_000,
    k: int = 20,
    writers: tuple[int, ...] = (1, 2, 4),
    repeats: int = 3,
) -> dict:
    """Relationships/s into a throwaway local Neo4j for 1, 2 and 4 writer threads (each a run
    of its own, users split by chunk as ``predict --writers`` splits them, items drawn by a
    Zipf law so that writers meet on popular items), median of ``repeats`` interleaved passes,
    as ratios to one writer."""
    from concurrent.futures import ThreadPoolExecutor

    from graphdb.admin import clear_graph
    from graphdb.connection import Neo4jTarget, open_driver
    from graphdb.local import LocalNeo4j
    from graphdb.locks import job_lock
    from graphdb.predictions import begin_run, write_chunk
    from graphdb.schema import ensure_schema

    home = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    launcher = LocalNeo4j(home)
    state, _ = launcher.start()
    driver = open_driver(Neo4jTarget(state.uri, state.user, state.password, source="local"))
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, items + 1)
    chunks = []
    for start in range(0, users, 500):
        block = np.arange(start, min(users, start + 500))
        chunks.append(
            {
                "users": np.repeat(block, k).astype(str).tolist(),
                "targets": rng.choice(items, len(block) * k, p=popularity / popularity.sum())
                .astype(str)
                .tolist(),
                "scores": rng.random(len(block) * k).tolist(),
                "ranks": np.tile(np.arange(1, k + 1), len(block)).tolist(),
                "explanations": [None] * (len(block) * k),
            }
        )
    report: dict = {"relationships": users * k, "writers": {}}
    try:
        clear_graph(driver)
        ensure_schema(driver)
        driver.execute_query(
            "UNWIND range(0, $n - 1) AS i CREATE (:User {id: toString(i)})", n=users
        )
        driver.execute_query(
            "UNWIND range(0, $n - 1) AS i CREATE (:Item {id: toString(i)})", n=items
        )
        timings: dict[int, list[float]] = {count: [] for count in writers}
        # a warm-up pass (Neo4j's plans and caches), then the writer counts interleaved
        passes = [("warm-up", 1)] + [(r, c) for r in range(repeats) for c in writers]
        for label, count in passes:
            run = f"bench-{label}-{count}"
            begin_run(driver, run, "bench", "-", k, ["item"], "{}")
            started = time.perf_counter()
            with job_lock(driver, "predict") as lock, ThreadPoolExecutor(count) as pool:
                list(pool.map(lambda c, r=run: write_chunk(driver, r, {"item": c}, lock), chunks))
            if label != "warm-up":
                timings[count].append(time.perf_counter() - started)
        for count, seconds in timings.items():
            report["writers"][count] = {
                "median_seconds": round(float(np.median(seconds)), 2),
                "relationships_per_second": round(users * k / float(np.median(seconds)), 1),
                "spread_seconds": [round(min(seconds), 2), round(max(seconds), 2)],
            }
    finally:
        driver.close()
        launcher.stop()
    base = report["writers"][writers[0]]["relationships_per_second"]
    for figures in report["writers"].values():
        figures["ratio_to_one_writer"] = round(figures["relationships_per_second"] / base, 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--neo4j", action="store_true", help="also measure write throughput")
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    report = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "scoring_vs_matmul": scoring_vs_matmul(20_000, 20_000, 64, 20, device),
    }
    sys.stderr.write(json.dumps(report["scoring_vs_matmul"]) + "\n")
    if not args.skip_scale:
        report["scale"] = scale_run(device)
    if args.neo4j:
        report["write"] = write_throughput()
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
