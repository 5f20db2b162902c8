"""Embedding cache keyed by (model id, sha256 of the text), in one SQLite file.

A re-run embeds only texts that are new or changed; SQLite makes it safe to share between
commands and survives a killed run (each chunk of encoded texts commits, see
:func:`embed_with_cache`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm


def text_hash(text: str) -> str:
    """Content key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Stores float32 vectors by (model, text hash)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, hash TEXT, dims INTEGER, "
            "vector BLOB, PRIMARY KEY (model, hash))"
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, vector in self._db.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                [model, *chunk],
            ):
                found[key] = np.frombuffer(vector, dtype=np.float32)
        return found

    def keep_only(self, keys: set[tuple[str, str]]) -> int:
        """Delete every row but the ``(model, hash)`` keys given, then compact the file so the
        deleted vectors' bytes are gone from disk; returns the rows deleted. (A forgotten
        user's texts were cached under hashes nobody can list; keeping only what the graph's
        nodes use drops them with the rest, and training re-embeds its split texts.)"""
        rows = self._db.execute("SELECT model, hash FROM embeddings").fetchall()
        gone = [row for row in rows if tuple(row) not in keys]
        self._db.executemany("DELETE FROM embeddings WHERE model = ? AND hash = ?", gone)
        self._db.commit()
        self._db.execute("VACUUM")
        return len(gone)

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
            [(model, k, int(v.shape[0]), v.astype(np.float32).tobytes()) for k, v in items.items()],
        )
        self._db.commit()


def embed_with_cache(
    texts: list[str],
    model_id: str,
    dimensions: int,
    encode: Callable[[list[str]], np.ndarray],
    cache: EmbeddingCache,
    commit_every: int = 1024,
    progress: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` in order, encoding only cache misses; returns (vectors, computed).

    Misses are encoded ``commit_every`` texts at a time (longest first, so batches pad little)
    and each chunk is committed to the cache before the next starts: a killed run keeps what it
    encoded, and the re-run encodes only the rest.
    """
    hashes = [text_hash(t) for t in texts]
    cached = cache.get_many(model_id, sorted(set(hashes)))
    first_text = {h: t for h, t in zip(hashes, texts, strict=True)}
    # a total order (length, then hash): the same texts always form the same batches, so a
    # resumed run, whose misses are the uncommitted tail of this order, encodes bit-identically
    missing = sorted({h for h in hashes if h not in cached}, key=lambda h: (-len(first_text[h]), h))
    with tqdm(
        total=len(missing), desc="embed", unit="text", file=sys.stderr, disable=not progress or None
    ) as bar:
        for start in range(0, len(missing), commit_every):
            chunk = missing[start : start + commit_every]
            fresh = dict(zip(chunk, encode([first_text[h] for h in chunk]), strict=True))
            cache.put_many(model_id, fresh)
            cached.update(fresh)
            bar.update(len(chunk))
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, key in enumerate(hashes):
        out[row] = cached[key]
    return out, len(missing)
