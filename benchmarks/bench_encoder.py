"""Encoder throughput: ours vs sentence-transformers' encode(), and the cache, in one run.

Same model (the packaged all-MiniLM-L6-v2), same texts (MovieLens item texts built from
movies.csv), same device and batch size; each encoder runs twice in alternating order and the
best time counts. Targets: ours / sentence-transformers >= 1.0, warm cache >= 20x cold.

    python benchmarks/bench_encoder.py --datasets-dir ../shared/datasets [--n 2000]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from features.cache import EmbeddingCache, embed_with_cache
from features.encoder import TextEncoder, default_model_path
from features.texts import item_text
from graphdb.loaders.movielens import split_title


def movie_texts(folder: Path, n: int) -> list[str]:
    with open(folder / "movies.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:n]
    texts = []
    for row in rows:
        title, year = split_title(row["title"])
        texts.append(item_text(title, year, row["genres"].split("|")))
    return texts


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets-dir", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    texts = movie_texts(args.datasets_dir / "movielens-small", args.n)
    ours = TextEncoder(device=args.device, batch_size=args.batch_size)
    theirs = SentenceTransformer(str(default_model_path()), device=args.device)
    ours.encode(texts[:64], progress=False)  # warm-up both
    theirs.encode(texts[:64], batch_size=args.batch_size)
    t_ours, t_theirs = float("inf"), float("inf")
    for _ in range(2):
        t_ours = min(t_ours, best_of(1, lambda: ours.encode(texts, progress=False)))
        t_theirs = min(
            t_theirs,
            best_of(
                1,
                lambda: theirs.encode(texts, batch_size=args.batch_size, normalize_embeddings=True),
            ),
        )
    with tempfile.TemporaryDirectory() as folder:
        cache = EmbeddingCache(Path(folder) / "cache.sqlite")

        def encode(batch: list[str]):
            return ours.encode(batch, progress=False)

        started = time.perf_counter()
        embed_with_cache(texts, ours.model_id, ours.dimensions, encode, cache)
        cold = time.perf_counter() - started
        warm = best_of(
            3, lambda: embed_with_cache(texts, ours.model_id, ours.dimensions, encode, cache)
        )
        cache.close()
    result = {
        "texts": len(texts),
        "device": args.device,
        "batch_size": args.batch_size,
        "ours_texts_per_second": round(len(texts) / t_ours, 1),
        "sentence_transformers_texts_per_second": round(len(texts) / t_theirs, 1),
        "ratio_vs_sentence_transformers": round(t_theirs / t_ours, 3),
        "cache_cold_seconds": round(cold, 3),
        "cache_warm_seconds": round(warm, 4),
        "warm_cache_speedup": round(cold / warm, 1),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
