"""``canonicalize-interests`` and ``relate-interests``: the interest vocabulary cleaned up and
connected, written back into the graph."""

from __future__ import annotations

import time
from typing import Any

from neo4j import Driver

from features.cache import EmbeddingCache, embed_with_cache
from features.canonical import InterestName, canonical_groups
from features.encoder import TextEncoder
from features.interest_graph import cooccurrence_top_n, embedding_top_n
from graphdb.interests import (
    interest_edge_counts,
    interest_memberships,
    interest_usage,
    merge_into_canonical,
)
from graphdb.loaders.plan import GraphPlan, RelSet, write_plan
from graphdb.schema import Label, RelType


def canonicalize_interests(
    driver: Driver,
    encoder: TextEncoder,
    cache: EmbeddingCache,
    min_similarity: float,
    write: bool,
    database: str | None = None,
    examples: int = 10,
    batch_size: int = 200,
) -> dict[str, Any]:
    """Find synonym groups, merge each into its canonical interest (if ``write``, ``batch_size``
    merges per transaction), and report."""
    started = time.perf_counter()
    rows = interest_usage(driver, database)
    interests = [InterestName(r["id"], r["name"], r["kind"], r["uses"]) for r in rows]
    vectors, _ = embed_with_cache(
        [i.name for i in interests],
        encoder.model_id,
        encoder.dimensions,
        lambda texts: encoder.encode(texts, progress=False),
        cache,
    )
    groups = canonical_groups(interests, vectors, min_similarity)
    merges = [{"old": m.id, "new": g[0].id} for g in groups for m in g[1:]]
    before = interest_edge_counts(driver, database)
    collapsed = (
        merge_into_canonical(driver, merges, database, batch_size) if write and merges else 0
    )
    largest = sorted(groups, key=lambda g: (-len(g), g[0].id))[:examples]
    return {
        "interests": len(interests),
        "groups": len(groups),
        "merged": len(merges),
        "collapsed_edges": collapsed,
        "written": write,
        "min_similarity": min_similarity,
        "examples": [{"canonical": g[0].name, "merged": [m.name for m in g[1:]]} for g in largest],
        "edges_before": before,
        "edges_after": interest_edge_counts(driver, database),
        "seconds": round(time.perf_counter() - started, 3),
    }


def relate_interests(
    driver: Driver,
    top_n: int = 10,
    min_count: int = 3,
    min_similarity: float = 0.5,
    database: str | None = None,
) -> dict[str, Any]:
    """Write ``RELATED_TO {weight, source}`` from co-occurrence and from embeddings; edges a
    previous run wrote that are no longer in the top-N are deleted, so re-runs converge."""
    started = time.perf_counter()
    ids, holders, columns, vectors = interest_memberships(driver, database)
    cooccurrence = RelSet(
        RelType.RELATED_TO, Label.INTEREST, Label.INTEREST, source="cooccurrence", complete=True
    )
    for a, b, jaccard, count in cooccurrence_top_n(holders, columns, len(ids), top_n, min_count):
        cooccurrence.add(ids[a], ids[b], weight=round(jaccard, 6), count=count)
    similar = RelSet(
        RelType.RELATED_TO, Label.INTEREST, Label.INTEREST, source="embedding", complete=True
    )
    if vectors.shape[1]:
        for a, b, cosine in embedding_top_n(vectors, top_n, min_similarity):
            similar.add(ids[a], ids[b], weight=round(cosine, 6))
    report = write_plan(
        driver,
        GraphPlan("interest-graph", relationships=[cooccurrence, similar]),
        database=database,
        progress=False,
    )
    return {
        "interests": len(ids),
        "cooccurrence_edges": len(cooccurrence.rows),
        "embedding_edges": len(similar.rows),
        "deleted_stale": sum(
            v["deleted"] for k, v in report["written"].items() if k.startswith("RELATED_TO")
        ),
        "written": {k: v for k, v in report["written"].items() if k.startswith("RELATED_TO")},
        "seconds": round(time.perf_counter() - started, 3),
    }
