"""``interestgraph forget-user``: erase one user from the graph, the caches and (asked) the
artefacts, and write an erasure record that holds no personal data.

Order and resumption: the graph goes first (one transaction: the node, every relationship
touching it, the tag counts it supported), then co-occurrence is recomputed, then the caches,
then the artefacts, then (asked) the local Neo4j's store is rewritten from the live graph so the
deleted records' bytes leave its files and logs. Every step is idempotent and looks for what is
left rather than trusting a previous run, so a run killed half-way is finished by running the
command again.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from neo4j import Driver

from features.cache import EmbeddingCache
from features.profiles import ProfileCache
from graphdb.erasure import forget_user_in_graph, has_cooccurrence
from graphdb.vectors import EMBEDDED_LABELS, embedding_keys
from interestgraph.interest_jobs import relate_interests

#: ids shorter than this are not searched for byte-wise (``"7"`` is in every file)
MIN_SEARCHABLE_ID = 6


def forget_user(
    driver: Driver,
    database: str | None,
    home: Path,
    user_id: str,
    purge_artefacts: bool,
    compact_store: Callable[[], dict[str, object]] | None = None,
) -> dict[str, Any]:
    """Erase ``user_id`` (see the module docstring); the report lists what was removed, the
    artefacts that still hold the user (deleted with ``purge_artefacts``) and any file under
    ``home``, the local Neo4j's store included, whose bytes still contain the id.
    ``compact_store`` (``LocalNeo4j.compact``) runs last; the driver is not used after it."""
    started = time.perf_counter()
    graph = forget_user_in_graph(driver, user_id, database)
    report: dict[str, Any] = {
        "user_sha256": hashlib.sha256(user_id.encode()).hexdigest(),
        "in_graph": graph["found"],
        "relationships_deleted": graph["relationships"],
        "user_tag_edges_deleted": graph["tag_edges_deleted"],
        "explanations_rewritten": graph["paths_rewritten"],
    }
    if has_cooccurrence(driver, database):
        report["related_to"] = relate_interests(driver, database=database)["written"]
    report["cache_rows_deleted"] = _clean_caches(driver, database, home, graph.get("profile"))
    found = artefacts_mentioning(home, user_id)
    if purge_artefacts:
        for artefact in found:
            _remove_folder(home, Path(artefact["path"]))
    report["artefacts"] = found
    report["artefacts_purged"] = purge_artefacts
    if compact_store is not None:
        report["store_compaction"] = compact_store()
    report["files_still_mentioning"] = files_mentioning(home, user_id)
    report["seconds"] = round(time.perf_counter() - started, 3)
    _record(home, report)
    return report


def _clean_caches(
    driver: Driver, database: str | None, home: Path, profile: str | None
) -> dict[str, int]:
    """Embedding rows no node uses any more (the user's among them) and the user's generated
    profile; both files compacted."""
    deleted = {"embeddings": 0, "profiles": 0}
    embeddings = home / "embeddings.sqlite"
    if embeddings.exists():
        used = {
            tuple(key.rsplit(":", 1))
            for label in EMBEDDED_LABELS
            for key in embedding_keys(driver, label, database).values()
            if key
        }
        with EmbeddingCache(embeddings) as cache:
            deleted["embeddings"] = cache.keep_only(used)  # type: ignore[arg-type]
    profiles = home / "profiles.sqlite"
    if profiles.exists() and profile:
        with ProfileCache(profiles) as cache:
            deleted["profiles"] = cache.forget_texts([profile])
    return deleted


def _walk(home: Path, with_store: bool = False) -> Any:
    """``os.walk`` over ``home``; artefacts are never looked for in the Neo4j store."""
    for root, dirs, files in os.walk(home):
        if Path(root) == home and not with_store:
            dirs[:] = [d for d in dirs if not d.startswith("neo4j")]
        yield Path(root), dirs, files


def artefacts_mentioning(home: Path, user_id: str) -> list[dict[str, str]]:
    """Snapshots (``nodes/user.parquet``) and checkpoints (``id_maps.json``) under ``home``
    whose user ids include ``user_id``."""
    found = []
    for root, _, files in _walk(home):
        if "manifest.json" in files and (root / "nodes" / "user.parquet").exists():
            ids = pd.read_parquet(root / "nodes" / "user.parquet", columns=["id"])["id"]
            if (ids == user_id).any():
                found.append({"kind": "snapshot", "path": str(root)})
        if "id_maps.json" in files:
            users = json.loads((root / "id_maps.json").read_text()).get("user", [])
            if user_id in users:
                found.append({"kind": "checkpoint", "path": str(root)})
    return found


def files_mentioning(home: Path, user_id: str) -> list[str] | None:
    """Files under ``home`` (the local Neo4j's store and logs included) whose bytes contain
    the id; ``None`` when the id is too short for the search to mean anything."""
    needle = user_id.encode()
    if len(needle) < MIN_SEARCHABLE_ID:
        return None
    hits = []
    for root, _, files in _walk(home, with_store=True):
        for name in files:
            path = root / name
            if path.is_file() and not path.is_symlink() and _contains(path, needle):
                hits.append(str(path))
    return sorted(hits)


def _contains(path: Path, needle: bytes) -> bool:
    """Whether the file's bytes contain ``needle``, mapped rather than read (store files run
    to gigabytes)."""
    if path.stat().st_size < len(needle):
        return False
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return mapped.find(needle) != -1


def _remove_folder(home: Path, folder: Path) -> None:
    """Delete an artefact folder and every symlink under ``home`` that points at it (how
    snapshots and checkpoints are published: ``graphdb.files.atomic_folder``)."""
    target = folder.resolve()
    for root, dirs, files in _walk(home):
        for name in [*dirs, *files]:
            path = root / name
            if path.is_symlink() and path.resolve() == target:
                path.unlink()
    shutil.rmtree(target, ignore_errors=True)


def _record(home: Path, report: dict[str, Any]) -> None:
    """Append the erasure record: the id's hash, the time and the counts, never the data."""
    entry = {
        "user_sha256": report["user_sha256"],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "in_graph": report["in_graph"],
        "relationships_deleted": report["relationships_deleted"],
        "cache_rows_deleted": report["cache_rows_deleted"],
        "artefacts": len(report["artefacts"]),
        "artefacts_purged": report["artefacts_purged"],
        "store_compacted": "store_compaction" in report,
    }
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "erasures.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
