"""Batch prediction (``interestgraph predict``): top-K new items and interests per user, as
one run.

Embeds every node once on the full known graph (every edge and tagging event, the graph's own
user and item embeddings; context derived by the same rule as training, with every event
counted), with id embeddings only for the rows the checkpoint trained (any other row is zero,
so a node that had no training edge is scored from its text and edges, never from an untrained
random vector), scores users in chunks, and writes through :mod:`graphdb.predictions`: each
chunk of users in one transaction under a deterministic run id, then one transaction makes the
run current and the previous run is deleted. A killed job, started again with the same
checkpoint and options, skips the users already written and finishes the same run.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from neo4j import Driver
from tqdm import tqdm

from gnn.graph import TARGETS, Graph
from gnn.models import PerTargetModel
from graphdb.explanations import paths_for_predictions
from graphdb.failpoints import reach
from graphdb.locks import job_lock
from graphdb.predictions import (
    begin_run,
    done_users,
    latest_superseded,
    remove_stale_runs,
    switch_run,
    write_chunk,
)
from graphdb.schema import ensure_schema
from graphdb.snapshot import Snapshot
from training.checkpoint import Checkpoint
from training.context import derive_context
from training.data import build_graph, context_edges, target_edges, training_pairs
from training.scoring import known_links, top_k

#: --targets name → model target
PREDICTION_TARGETS = {"item": "user_item", "interest": "user_interest"}

#: the columns of a block of predictions
BLOCK_COLUMNS = ("users", "targets", "scores", "ranks")


#: explanation paths stored with each prediction by default (the API serves up to this many)
STORED_PATHS = 5


#: test figures a run records per target (what the explorer's footer shows)
HEADLINE_METRICS = ("recall@10", "recall@20", "ndcg@20")


def run_summary(checkpoint: Checkpoint) -> dict[str, Any]:
    """What a prediction run records about its model, without the training history: the
    dataset and split, and per target the variant validation chose (``a+b+c`` for an
    ensemble of variants), its validation Recall@20 and, where the checkpoint's
    ``metrics.json`` has them, its test figures and the best baseline's (the headline a reader
    of the run needs to judge it)."""
    fit = checkpoint.info.get("fit", {})
    chosen = fit.get("chosen_variant", {})
    validation = fit.get("validation_recall@20", {})
    ensembles = fit.get("ensemble", {})
    by_size = fit.get("validation_recall@20_by_ensemble_size", {})
    metrics_file = checkpoint.folder / "metrics.json"
    tested = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    targets = {}
    for target, variant in chosen.items():
        ours = tested.get("metrics", {}).get(target, {})
        baselines = {
            name: figures[target]["recall@20"]
            for name, figures in tested.get("baselines", {}).items()
            if figures.get(target, {}).get("recall@20") is not None
        }
        best = max(baselines, key=baselines.__getitem__) if baselines else None
        members = ensembles.get(target)
        targets[target] = {
            "variant": "+".join(members) if members else variant,
            "validation_recall@20": (
                by_size[str(len(members))][target]
                if members
                else validation.get(variant, {}).get(target)
            ),
            "test": {m: ours[m] for m in HEADLINE_METRICS if m in ours},
            "best_baseline": {"name": best, "recall@20": baselines[best]} if best else None,
        }
    return {
        "dataset": checkpoint.info.get("dataset"),
        "split": checkpoint.info.get("split"),
        "refit": bool(checkpoint.info.get("refit")),
        "targets": targets,
    }


def run_id_for(
    checkpoint: Checkpoint, k: int, targets: Sequence[str], paths: int = STORED_PATHS
) -> str:
    """Same weights, snapshot and options → same id, which is what makes a re-run resume."""
    digest = hashlib.sha256()
    digest.update((checkpoint.folder / "model.pt").read_bytes())
    digest.update(json.dumps([checkpoint.snapshot_hash, k, sorted(targets), paths]).encode())
    return f"run-{digest.hexdigest()[:16]}"


def production_graph(
    checkpoint: Checkpoint, snapshot: Snapshot
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Every known edge and event, the graph's own embeddings, and the checkpoint's id masks."""
    frames = target_edges(snapshot)
    pairs = training_pairs(frames, None)
    context = derive_context(snapshot, frames, None)
    features = {t: snapshot.embeddings[t] for t in ("user", "item", "interest")}
    graph = build_graph(
        snapshot, pairs, features, context_edges(snapshot, context), checkpoint.uses_interests
    )
    for node_type, mask in graph.id_mask.items():
        trained = checkpoint.trained_nodes[node_type]
        if len(trained) != len(mask):
            raise ValueError(
                f"checkpoint {checkpoint.folder}: {len(trained)} trained {node_type} rows for "
                f"{len(mask)} nodes in the snapshot"
            )
        graph.id_mask[node_type] = torch.from_numpy(trained)
    return graph, pairs


#: one block of predictions: string ids ``users`` / ``targets``, ``scores`` and ``ranks``,
#: one entry per prediction, grouped by user, best first
Block = dict[str, np.ndarray]

#: where a run's predictions come from: (target name, user rows to do) → blocks of users
Source = Callable[[str, np.ndarray], Iterator[Block]]


@dataclass
class Scorer:
    """The checkpoint's model embedded once on the full known graph: top-K new items or
    interests for any rows of users, in chunks (the same chunks give the same numbers,
    which is what lets shards scored apart equal one process's run exactly)."""

    model: PerTargetModel
    graph: Graph
    emb: dict
    pairs: dict[str, np.ndarray]
    snapshot: Snapshot
    device: torch.device
    k: int
    chunk: int
    #: per target name: (user ids, candidate ids, known links), built on first use, so that
    #: a caller scoring one chunk per call (a Ray actor) does not rebuild them each time
    _tables: dict[str, tuple] = field(default_factory=dict, repr=False)

    def _tables_of(self, name: str) -> tuple[np.ndarray, np.ndarray, tuple]:
        if name not in self._tables:
            dst_type = TARGETS[PREDICTION_TARGETS[name]][1]
            user_ids = self.snapshot.nodes["user"]["id"].astype(str).to_numpy()
            dst_ids = self.snapshot.nodes[dst_type]["id"].astype(str).to_numpy()
            known = known_links(self.pairs[PREDICTION_TARGETS[name]], len(user_ids))
            self._tables[name] = (user_ids, dst_ids, known)
        return self._tables[name]

    def blocks(self, name: str, rows: np.ndarray) -> Iterator[Block]:
        target = PREDICTION_TARGETS[name]
        user_ids, dst_ids, known = self._tables_of(name)
        for block in top_k(
            lambda users: self.model.matrix(self.emb, target, users),
            rows,
            len(dst_ids),
            self.k,
            known,
            self.device,
            chunk=self.chunk,
        ):
            valid = np.isfinite(block.scores)
            ranks = np.broadcast_to(np.arange(1, block.items.shape[1] + 1), block.items.shape)
            yield {
                "users": np.repeat(user_ids[block.users], valid.sum(1)),
                "targets": dst_ids[block.items[valid]],
                "scores": block.scores[valid].astype(np.float32),
                "ranks": ranks[valid].astype(np.int32),
            }


def load_scorer(
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    targets: Sequence[str],
    device: torch.device,
    k: int,
    chunk: int,
) -> Scorer:
    """Rebuild the production graph, load the model and embed every node once. Raises
    ``ValueError`` when the checkpoint has no model for a requested target."""
    graph, pairs = production_graph(checkpoint, snapshot)
    graph = graph.to(device)
    model = checkpoint.scorer(graph)
    missing = [t for t in targets if PREDICTION_TARGETS[t] not in model.targets]
    if missing:
        rest = ",".join(t for t in targets if t not in missing)
        raise ValueError(
            f"checkpoint {checkpoint.folder} has no model for {', '.join(missing)} (no training "
            f"edges of that kind); pass --targets {rest}"
        )
    with torch.no_grad():
        emb = model.embed(graph)
    return Scorer(model, graph, emb, pairs, snapshot, device, k, chunk)


def predict(
    driver: Driver,
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    k: int,
    targets: Sequence[str],
    device: torch.device,
    database: str | None = None,
    users_per_transaction: int = 500,
    keep_previous: bool = False,
    progress: bool = True,
    paths: int = STORED_PATHS,
    wait: float = 0.0,
    source: Source | None = None,
    writers: int = 2,
) -> dict[str, Any]:
    """Score (or take the blocks of ``source``: shards scored elsewhere), find each
    prediction's best ``paths`` explanation paths (0: none), write and switch, holding the
    graph's ``predict`` lock (waiting up to ``wait`` seconds for another job's); ``writers``
    threads explain and write blocks side by side. Returns counts and throughput figures.
    Raises ``ValueError`` before touching the graph when the checkpoint has no model for a
    requested target."""
    started = time.perf_counter()
    run_id = run_id_for(checkpoint, k, targets, paths)
    if source is None:
        source = load_scorer(checkpoint, snapshot, targets, device, k, users_per_transaction).blocks
    ensure_schema(driver, database)
    with job_lock(driver, "predict", database, wait=wait) as lock:
        removed_before = remove_stale_runs(driver, [run_id], only_writing=True, database=database)
        status = begin_run(
            driver,
            run_id,
            model=f"hetero-{checkpoint.config.conv}"
            + (" refit" if checkpoint.info.get("refit") else ""),
            checkpoint=str(checkpoint.folder),
            k=k,
            targets=targets,
            metrics=json.dumps(run_summary(checkpoint)),
            database=database,
        )
        report: dict[str, Any] = {
            "run": run_id,
            "k": k,
            "targets": list(targets),
            "device": str(device),
        }
        if status == "current":  # done before; a kill may have stopped its cleanup: finish it
            kept = latest_superseded(driver, database) if keep_previous else []
            removed = remove_stale_runs(driver, [run_id, *kept], database=database)
            return {
                **report,
                "status": "current",
                "written": {t: 0 for t in targets},
                "resumed": False,
                "removed_runs": sorted(set(removed_before) | set(removed)),
            }
        user_ids = snapshot.nodes["user"]["id"].astype(str).to_numpy()
        written: dict[str, int] = dict.fromkeys(targets, 0)
        explained: dict[str, int] = dict.fromkeys(targets, 0)
        seconds = {"score": 0.0, "explain": 0.0, "write": 0.0}
        resumed = 0

        def store(name: str, block: Block) -> tuple[str, int, int, float, float]:
            """Explain and write one block in its own transactions (one writer thread)."""
            columns: dict[str, list] = {c: block[c].tolist() for c in BLOCK_COLUMNS}
            clock = time.perf_counter()
            columns["explanations"] = (
                paths_for_predictions(
                    driver, name, columns["users"], columns["targets"], paths, database
                )
                if paths
                else [None] * len(columns["users"])
            )
            found = sum(e not in (None, "[]") for e in columns["explanations"])
            middle = time.perf_counter()
            count = write_chunk(driver, run_id, {name: columns}, lock, database)
            reach("predict.chunk")
            return name, count, found, middle - clock, time.perf_counter() - middle

        def collect(future: Future) -> None:
            name, count, found, explain_time, write_time = future.result()
            written[name] += count
            explained[name] += found
            seconds["explain"] += explain_time
            seconds["write"] += write_time

        store_started = time.perf_counter()
        # users are split by block, so no two writers touch the same user node; what they
        # share (popular items) can deadlock, which the managed transactions retry
        pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="predict-writer")
        try:
            for name in targets:
                done = done_users(driver, run_id, name, database)
                resumed += len(done)
                todo = np.flatnonzero(~np.isin(user_ids, list(done)))
                bar = tqdm(
                    total=len(todo),
                    desc=f"predict {name}",
                    unit="user",
                    file=sys.stderr,
                    disable=not progress or None,
                )
                inflight: deque[Future] = deque()
                blocks = iter(source(name, todo))
                while True:
                    clock = time.perf_counter()
                    block = next(blocks, None)
                    seconds["score"] += time.perf_counter() - clock
                    if block is None:
                        break
                    inflight.append(pool.submit(store, name, block))
                    bar.update(len(np.unique(block["users"])))
                    while len(inflight) > 2 * writers:  # bounded: scoring waits for writers
                        collect(inflight.popleft())
                while inflight:
                    collect(inflight.popleft())
                bar.close()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        store_seconds = time.perf_counter() - store_started - seconds["score"]
        previous = switch_run(driver, run_id, lock, database)
        reach("predict.switched")
        kept = previous if keep_previous else []
        removed_after = remove_stale_runs(driver, [run_id, *kept], database=database)
        total = sum(written.values())
        return {
            **report,
            "status": "current",
            "resumed": resumed > 0,
            "users_already_written": resumed,
            "written": written,
            "previous_runs": previous,
            "removed_runs": sorted(set(removed_before) | set(removed_after)),
            "explained": {
                t: round(explained[t] / written[t], 4) if written[t] else None for t in written
            },
            "writers": writers,
            "score_seconds": round(seconds["score"], 3),
            # explain and write: summed over the writers' chunks; relationships/s: wall clock
            "explain_seconds": round(seconds["explain"], 3),
            "write_seconds": round(seconds["write"], 3),
            "relationships_per_second": round(total / store_seconds, 1) if total else None,
            "seconds": round(time.perf_counter() - started, 3),
        }
