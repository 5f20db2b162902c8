"""Sharded batch scoring: ``predict --to-shards DIR`` scores users on several workers into
Parquet shards plus a manifest; ``predict --from-shards DIR`` writes them into Neo4j as one run.

Users are cut into chunks of ``chunk`` rows (in row order) and the chunks dealt round-robin
to the ranks, so every rank scores the very chunks a single process would, with the same
matrix shapes: the union of the shards equals one process's top-K exactly, ids and scores.
Each rank writes its shard atomically (temporary name, then rename); rank 0 writes
``manifest.json`` last, after every rank is done, so a folder without a manifest is an
unfinished job and is refused. Scoring needs no Neo4j: only the checkpoint and its snapshot.

    DIR/manifest.json                  run facts, one entry per shard (rows, users, sha256)
    DIR/{item,interest}-NNNNN.parquet  user, target (string ids), score (float32), rank
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from graphdb.snapshot import Snapshot
from training.batch_predict import Block, Source, load_scorer
from training.checkpoint import Checkpoint
from training.distributed import barrier, current, gather

MANIFEST = "manifest.json"
SHARD_FORMAT = 1


class ShardError(ValueError):
    """A shard folder that is unfinished, damaged or not this checkpoint's."""


def model_digest(checkpoint: Checkpoint) -> str:
    return hashlib.sha256((checkpoint.folder / "model.pt").read_bytes()).hexdigest()


def my_chunks(num_users: int, chunk: int) -> np.ndarray:
    """The user rows this rank scores: every ``world``-th chunk of ``chunk`` rows, from chunk
    ``rank`` on."""
    ranks = current()
    starts = np.arange(0, num_users, chunk)[ranks.rank :: ranks.world]
    if len(starts) == 0:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(s, min(s + chunk, num_users)) for s in starts])


def score_to_shards(
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    out: Path,
    k: int,
    targets: Sequence[str],
    device: torch.device,
    chunk: int = 500,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Score this rank's chunks of users into its shard files; rank 0 then writes the manifest
    and returns it (the other ranks return ``None``)."""
    ranks = current()
    out.mkdir(parents=True, exist_ok=True)
    if ranks.primary:  # the folder is unfinished until the manifest is rewritten
        (out / MANIFEST).unlink(missing_ok=True)
        for name in targets:
            for stale in out.glob(f"{name}-*.parquet"):
                stale.unlink()
    barrier()
    scorer = load_scorer(checkpoint, snapshot, targets, device, k, chunk)
    rows = my_chunks(snapshot.num_nodes("user"), chunk)
    mine = []
    for name in targets:
        path = out / f"{name}-{ranks.rank:05d}.parquet"
        blocks = tqdm(
            scorer.blocks(name, rows),
            total=-(-len(rows) // chunk),
            desc=f"score {name} (rank {ranks.rank})",
            unit="chunk",
            file=sys.stderr,
            disable=not progress or None,
        )
        mine.append(_write_shard(path, blocks))
    shards = [shard for shards in gather(mine) for shard in shards]
    if not ranks.primary:
        return None
    return write_manifest(out, checkpoint, snapshot, k, targets, chunk, ranks.world, shards)


def write_manifest(
    out: Path,
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    k: int,
    targets: Sequence[str],
    chunk: int,
    workers: int,
    shards: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write the manifest that makes ``out`` a finished shard folder (last, atomically) and
    return it with the row counts per target."""
    manifest = {
        "format": SHARD_FORMAT,
        "checkpoint": str(checkpoint.folder),
        "model_sha256": model_digest(checkpoint),
        "snapshot_hash": snapshot.content_hash,
        "k": k,
        "targets": list(targets),
        "chunk": chunk,
        "workers": workers,
        "users": snapshot.num_nodes("user"),
        "shards": shards,
    }
    _write_atomically(out / MANIFEST, json.dumps(manifest, indent=2).encode())
    rows = {t: sum(s["rows"] for s in shards if s["target"] == t) for t in targets}
    return {**manifest, "out": str(out), "rows": rows}


def describe_shard(out: Path, path: Path, target: str) -> dict[str, Any]:
    """A shard's manifest entry: its path under ``out``, rows, distinct users and sha256."""
    users = pq.read_table(path, columns=["user"]).column("user").to_numpy()
    return {
        "target": target,
        "file": path.relative_to(out).as_posix(),
        "rows": len(users),
        "users": len(np.unique(users)),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def _write_shard(path: Path, blocks: Iterator[Block]) -> dict[str, Any]:
    """Write ``blocks`` to ``path`` atomically (a temporary name, then rename)."""
    schema = pa.schema(
        [
            ("user", pa.string()),
            ("target", pa.string()),
            ("score", pa.float32()),
            ("rank", pa.int32()),
        ]
    )
    staging = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(staging, schema) as writer:
        for block in blocks:
            columns = [block[c] for c in ("users", "targets", "scores", "ranks")]
            table = pa.table([c.astype(str) for c in columns[:2]] + columns[2:], schema=schema)
            writer.write_table(table)
    os.replace(staging, path)
    return describe_shard(path.parent, path, path.name.split("-")[0])


def _write_atomically(path: Path, data: bytes) -> None:
    staging = path.with_name(path.name + ".partial")
    staging.write_bytes(data)
    os.replace(staging, path)


def read_manifest(
    folder: Path, checkpoint: Checkpoint, snapshot: Snapshot, k: int, targets: Sequence[str]
) -> dict[str, Any]:
    """The manifest of a finished shard folder, checked against the checkpoint, snapshot and
    options of this ``predict`` and against every shard's size and hash."""
    path = folder / MANIFEST
    if not path.exists():
        raise ShardError(
            f"{path}: not found: {folder} is not a finished `predict --to-shards` output (a "
            "job still running or killed before its manifest); run it again"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ShardError(f"{path}: unreadable: {e}") from None
    if manifest.get("format") != SHARD_FORMAT:
        raise ShardError(f"{path}: format {manifest.get('format')!r}, expected {SHARD_FORMAT}")
    expected = {
        "model_sha256": model_digest(checkpoint),
        "snapshot_hash": snapshot.content_hash,
        "k": k,
    }
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise ShardError(
                f"{path}: {key} is {manifest.get(key)!r}, this predict has {value!r}: the shards "
                f"were scored by another checkpoint, snapshot or --k; score them again"
            )
    missing = [t for t in targets if t not in manifest["targets"]]
    if missing:
        raise ShardError(
            f"{path}: no shards for {', '.join(missing)} (it has {manifest['targets']})"
        )
    for shard in manifest["shards"]:
        file = folder / shard["file"]
        if not file.exists():
            raise ShardError(f"{file}: listed in the manifest but missing")
        if hashlib.sha256(file.read_bytes()).hexdigest() != shard["sha256"]:
            raise ShardError(f"{file}: content differs from the manifest's hash (damaged?)")
    return manifest


def shard_source(
    folder: Path, manifest: dict[str, Any], user_ids: np.ndarray, chunk: int
) -> Source:
    """Blocks of predictions from the shards, ``chunk`` users at a time, only for the user
    rows asked for (a resumed job skips the users already written)."""

    def blocks(name: str, rows: np.ndarray) -> Iterator[Block]:
        wanted = set(user_ids[rows].tolist())
        for shard in manifest["shards"]:
            if shard["target"] != name:
                continue
            frame = pd.read_parquet(folder / shard["file"])
            frame = frame[frame["user"].isin(wanted)]
            if frame.empty:
                continue
            starts = (
                np.flatnonzero(frame["user"].to_numpy()[1:] != frame["user"].to_numpy()[:-1]) + 1
            )
            bounds = np.concatenate([[0], starts, [len(frame)]])
            for first in range(0, len(bounds) - 1, chunk):
                part = frame.iloc[bounds[first] : bounds[min(first + chunk, len(bounds) - 1)]]
                yield {
                    "users": part["user"].to_numpy(dtype=object),
                    "targets": part["target"].to_numpy(dtype=object),
                    "scores": part["score"].to_numpy(np.float32),
                    "ranks": part["rank"].to_numpy(np.int32),
                }

    return blocks
