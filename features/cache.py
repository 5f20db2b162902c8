"""Embedding cache keyed by (model id, sha256 of the text), in one SQLite file.

A re-run embeds only texts that are new or changed; SQLite makes it safe to share between
commands and survives a killed run (each batch commits).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np


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
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` in order, encoding only cache misses; returns (vectors, computed)."""
    hashes = [text_hash(t) for t in texts]
    cached = cache.get_many(model_id, sorted(set(hashes)))
    missing = sorted({h for h in hashes if h not in cached})
    if missing:
        first_text = {h: t for h, t in zip(hashes, texts, strict=True)}
        fresh = encode([first_text[h] for h in missing])
        cache.put_many(model_id, dict(zip(missing, fresh, strict=True)))
        cached.update(zip(missing, fresh, strict=True))
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, key in enumerate(hashes):
        out[row] = cached[key]
    return out, len(missing)
