"""The training snapshot on disk: the seam between the graph and the GPU.

A snapshot is a folder a GPU machine can train from without Neo4j::

    manifest.json              format, counts, embedding model, content hash
    nodes/{user,item,interest}.parquet      id, name (+ profile for users; year, description
                                            and genres for items; kind for interests)
    embeddings/{user,item,interest}.npy     float32 [nodes, dims], row i = node i of the parquet
    edges/{relation}.parquet   src, dst (row indices), weight, ts (-1 when unknown), source
    events/tagged.parquet      user, item, interest (row indices), ts: every tagging event

The item embeddings are the graph's own (texts built from every event); training rebuilds item
texts per split from the catalogue facts and the events it may see (``training.context``).

Row order is the sort order of ``id``, so the same graph always gives the same files and the
same ``content_hash`` (sha256 over every data file), which checkpoints pin.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graphdb.files import atomic_folder, read_or_raise

FORMAT_VERSION = 2
NODE_TYPES: tuple[str, ...] = ("user", "item", "interest")
NODE_COLUMNS: dict[str, list[str]] = {
    "user": ["id", "name", "profile"],
    "item": ["id", "name", "year", "description", "genres"],
    "interest": ["id", "name", "kind"],
}

#: relation name → (source node type, target node type)
RELATIONS: dict[str, tuple[str, str]] = {
    "interacted": ("user", "item"),
    "interested_in": ("user", "interest"),
    "has_interest": ("item", "interest"),
    "friend": ("user", "user"),
    "related_to": ("interest", "interest"),
}
EDGE_COLUMNS: tuple[str, ...] = ("src", "dst", "weight", "ts", "source")
EVENT_COLUMNS: tuple[str, ...] = ("user", "item", "interest", "ts")


class SnapshotError(ValueError):
    """A snapshot folder that is missing, incomplete or not what the caller expects."""


@dataclass
class Snapshot:
    """Nodes, embeddings and edges of one exported graph (see the module docstring)."""

    nodes: dict[str, pd.DataFrame]
    embeddings: dict[str, np.ndarray]
    edges: dict[str, pd.DataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)
    tag_events: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: np.zeros(0, np.int64) for c in EVENT_COLUMNS})
    )

    @property
    def content_hash(self) -> str:
        return str(self.manifest.get("content_hash", ""))

    def num_nodes(self, node_type: str) -> int:
        return len(self.nodes[node_type])


def write_snapshot(snapshot: Snapshot, folder: Path) -> dict[str, Any]:
    """Write atomically (temp folder, then rename) and return the manifest with its hash."""
    with atomic_folder(folder) as staging:
        (staging / "nodes").mkdir()
        (staging / "embeddings").mkdir()
        (staging / "edges").mkdir()
        (staging / "events").mkdir()
        for node_type in NODE_TYPES:
            snapshot.nodes[node_type].to_parquet(staging / "nodes" / f"{node_type}.parquet")
            np.save(staging / "embeddings" / f"{node_type}.npy", snapshot.embeddings[node_type])
        for relation in RELATIONS:
            frame = snapshot.edges[relation][list(EDGE_COLUMNS)]
            frame.to_parquet(staging / "edges" / f"{relation}.parquet")
        snapshot.tag_events[list(EVENT_COLUMNS)].to_parquet(staging / "events" / "tagged.parquet")
        manifest = {
            **snapshot.manifest,
            "format": FORMAT_VERSION,
            "nodes": {t: len(snapshot.nodes[t]) for t in NODE_TYPES},
            "edges": {r: len(snapshot.edges[r]) for r in RELATIONS},
            "tag_events": len(snapshot.tag_events),
            "dimensions": int(snapshot.embeddings["item"].shape[1]),
            "content_hash": _content_hash(staging),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    snapshot.manifest = manifest
    return manifest


def read_snapshot(folder: Path) -> Snapshot:
    """Read a snapshot folder and check it is the one exported: a missing, damaged or changed
    file (its content hash differs from the manifest's) raises :class:`SnapshotError` naming
    it, so training never runs on a half-copied or edited snapshot."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise SnapshotError(
            f"{manifest_path}: not found; run `interestgraph export --out {folder}`"
        )
    manifest = read_or_raise(manifest_path, lambda p: json.loads(p.read_text()), SnapshotError)
    if manifest.get("format") != FORMAT_VERSION:
        raise SnapshotError(
            f"{manifest_path}: format {manifest.get('format')!r}, this version reads "
            f"{FORMAT_VERSION}; export the snapshot again"
        )
    verify_snapshot(folder, manifest)

    def table(path: Path) -> pd.DataFrame:
        return read_or_raise(path, pd.read_parquet, SnapshotError)

    nodes = {t: table(folder / "nodes" / f"{t}.parquet") for t in NODE_TYPES}
    embeddings = {
        t: read_or_raise(folder / "embeddings" / f"{t}.npy", np.load, SnapshotError)
        for t in NODE_TYPES
    }
    edges = {r: table(folder / "edges" / f"{r}.parquet") for r in RELATIONS}
    events = table(folder / "events" / "tagged.parquet")
    for node_type in NODE_TYPES:
        if len(embeddings[node_type]) != len(nodes[node_type]):
            raise SnapshotError(
                f"{folder}/embeddings/{node_type}.npy: {len(embeddings[node_type])} rows for "
                f"{len(nodes[node_type])} nodes"
            )
    return Snapshot(nodes, embeddings, edges, manifest, events)


def verify_snapshot(folder: Path, manifest: dict[str, Any]) -> str:
    """Recompute the content hash; raise if any data file changed since export."""
    actual = _content_hash(Path(folder))
    if actual != manifest.get("content_hash"):
        raise SnapshotError(
            f"{folder}: content hash {actual[:12]} differs from the manifest's "
            f"{str(manifest.get('content_hash'))[:12]}: a file was changed or damaged after "
            "export; export the snapshot again"
        )
    return actual


def _content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            digest.update(path.relative_to(folder).as_posix().encode())
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()
