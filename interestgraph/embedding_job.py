"""``interestgraph embed``: every User, Item and Interest gets a text and a unit-length embedding.

Reads node facts from Neo4j, builds deterministic texts (``features.texts``), encodes only texts
the cache has not seen, and writes back only nodes whose (model, text) key changed, so a re-run
on an unchanged graph encodes nothing and writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from neo4j import Driver

from features.cache import EmbeddingCache, embed_with_cache, text_hash
from features.encoder import TextEncoder
from features.texts import interest_text, item_text, user_text, weighted_names
from graphdb.failpoints import reach
from graphdb.schema import Label
from graphdb.vectors import (
    EMBEDDED_LABELS,
    await_indexes,
    embedding_keys,
    ensure_vector_index,
    node_facts,
    write_embeddings,
)


def node_text(label: Label, facts: dict[str, Any]) -> str:
    """The text of one node from the facts :func:`graphdb.vectors.node_facts` returns."""
    if label is Label.ITEM:
        return item_text(
            facts["title"],
            facts["year"],
            facts["genres"] or [],
            weighted_names(facts["tags"]),
            facts["description"],
        )
    if label is Label.INTEREST:
        return interest_text(
            facts["name"] or facts["id"], facts["kind"] or "topic", facts["description"]
        )
    return user_text(
        facts["profile"], weighted_names(facts["interests"]), weighted_names(facts["items"])
    )


def _encode_chunk(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """One cache chunk (committed before the next is encoded; a kill point for the fault suite)."""
    reach("embed.chunk")
    return encoder.encode(texts, progress=False)


def embed_graph(
    driver: Driver,
    encoder: TextEncoder,
    cache: EmbeddingCache,
    database: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Embed every node of the embedded labels; returns per-label counts and texts/s."""
    report: dict[str, Any] = {
        "model": encoder.model_id,
        "dimensions": encoder.dimensions,
        "device": str(encoder.device),
        "labels": {},
    }
    started = time.perf_counter()
    encode_seconds = 0.0
    computed_total = 0
    for label in EMBEDDED_LABELS:
        facts = node_facts(driver, label, database)
        texts = [node_text(label, f) for f in facts]
        keys = [f"{encoder.model_id}:{text_hash(t)}" for t in texts]
        current = embedding_keys(driver, label, database)
        todo = [i for i, f in enumerate(facts) if current.get(f["id"]) != keys[i]]
        encode_start = time.perf_counter()
        vectors, computed = embed_with_cache(
            [texts[i] for i in todo],
            encoder.model_id,
            encoder.dimensions,
            lambda batch: _encode_chunk(encoder, batch),
            cache,
            commit_every=16 * encoder.batch_size,
            progress=progress,
        )
        encode_seconds += time.perf_counter() - encode_start
        computed_total += computed
        ensure_vector_index(driver, label, encoder.dimensions, database)
        write_embeddings(
            driver,
            label,
            [
                {"id": facts[i]["id"], "vector": vectors[row].tolist(), "key": keys[i]}
                for row, i in enumerate(todo)
            ],
            database,
        )
        report["labels"][label.value] = {
            "nodes": len(facts),
            "written": len(todo),
            "encoded": computed,
            "cached": len(todo) - computed,
        }
    await_indexes(driver, database)
    report["encoded"] = computed_total
    report["seconds"] = round(time.perf_counter() - started, 3)
    report["texts_per_second"] = (
        round(computed_total / encode_seconds, 1) if computed_total else None
    )
    return report
