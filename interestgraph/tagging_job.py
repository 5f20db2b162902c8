"""``interestgraph tag-interests``: propose interests of one kind for every item from its text,
measure the proposals on held-out items, and write the accepted ones as
``HAS_INTEREST {source:'llm', weight: score}`` (never touching catalogue or user-tag edges).

Evaluation: a fixed share of the labelled items (seeded) has its labels hidden; their texts are
built *without* interests of that kind; weight and threshold are calibrated leave-one-out on the
other items only. Reported next to the most-frequent-interests baseline.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from neo4j import Driver

from features.cache import EmbeddingCache, embed_with_cache
from features.encoder import TextEncoder
from features.tagging import (
    calibrate_threshold,
    calibrate_weight,
    neighbour_scores,
    precision_recall_at_k,
    top_k,
    zero_shot_scores,
)
from features.texts import interest_text, item_text, weighted_names
from graphdb.loaders.plan import GraphPlan, RelSet, write_plan
from graphdb.schema import Label, RelType
from graphdb.vectors import item_interest_labels, node_facts


def _text_without_kind(facts: dict[str, Any], kind: str) -> str:
    """The item's text with every interest of ``kind`` left out (no label leaks into input)."""
    return item_text(
        facts["title"],
        facts["year"],
        [] if kind == "genre" else facts["genres"],
        [] if kind == "tag" else weighted_names(facts["tags"]),
        facts["description"],
    )


def tag_interests(
    driver: Driver,
    encoder: TextEncoder,
    cache: EmbeddingCache,
    kind: str = "genre",
    k: int = 3,
    holdout: float = 0.2,
    seed: int = 0,
    write: bool = True,
    database: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate, calibrate and (optionally) write LLM interest proposals for one interest kind."""
    interests = [f for f in node_facts(driver, Label.INTEREST, database) if f["kind"] == kind]
    if not interests:
        raise ValueError(f"the graph has no interests of kind {kind!r}")
    column = {f["id"]: c for c, f in enumerate(interests)}
    items = node_facts(driver, Label.ITEM, database)
    row = {f["id"]: r for r, f in enumerate(items)}
    truth = np.zeros((len(items), len(interests)), dtype=np.int8)
    for item_id, interest_id in item_interest_labels(driver, kind, database):
        truth[row[item_id], column[interest_id]] = 1

    def encode(texts: list[str]) -> np.ndarray:
        return embed_with_cache(
            texts,
            encoder.model_id,
            encoder.dimensions,
            lambda b: encoder.encode(b, progress=progress),
            cache,
        )[0]

    item_vectors = encode([_text_without_kind(f, kind) for f in items])
    interest_vectors = encode(
        [interest_text(f["name"] or f["id"], kind, f["description"]) for f in interests]
    )
    labelled = np.flatnonzero(truth.sum(axis=1) > 0)
    shuffled = np.random.default_rng(seed).permutation(labelled)
    n_test = round(holdout * len(labelled))
    test, reference = np.sort(shuffled[:n_test]), np.sort(shuffled[n_test:])

    # Calibration: leave-one-out on the reference items only.
    ref_zero = zero_shot_scores(item_vectors[reference], interest_vectors)
    ref_neighbours = neighbour_scores(
        item_vectors[reference], item_vectors[reference], truth[reference], exclude_self=True
    )
    weight = calibrate_weight(ref_neighbours, ref_zero, truth[reference], k)
    threshold = calibrate_threshold(ref_neighbours + weight * ref_zero, truth[reference], k)

    # Evaluation on the held-out items.
    zero = zero_shot_scores(item_vectors[test], interest_vectors)
    neighbours = neighbour_scores(item_vectors[test], item_vectors[reference], truth[reference])
    frequency = truth[reference].sum(axis=0).astype(np.float32)
    popular = np.broadcast_to(frequency, zero.shape)
    evaluation = {}
    for name, scores in (
        ("most_frequent_baseline", popular),
        ("zero_shot", zero),
        ("text_neighbours", neighbours),
        ("combined", neighbours + weight * zero),
    ):
        precision, recall = precision_recall_at_k(scores, truth[test], k)
        evaluation[name] = {f"precision@{k}": round(precision, 4), f"recall@{k}": round(recall, 4)}

    report: dict[str, Any] = {
        "kind": kind,
        "k": k,
        "items": len(items),
        "labelled_items": len(labelled),
        "held_out_items": n_test,
        "seed": seed,
        "zero_shot_weight": weight,
        "threshold": round(threshold, 4),
        "evaluation": evaluation,
    }
    if write:
        report["written"] = _write_proposals(
            driver,
            items,
            interests,
            item_vectors,
            interest_vectors,
            truth,
            labelled,
            weight,
            threshold,
            k,
            database,
        )
    return report


def _write_proposals(
    driver: Driver,
    items: list[dict[str, Any]],
    interests: list[dict[str, Any]],
    item_vectors: np.ndarray,
    interest_vectors: np.ndarray,
    truth: np.ndarray,
    labelled: np.ndarray,
    weight: float,
    threshold: float,
    k: int,
    database: str | None,
) -> dict[str, int]:
    """Proposals for every item, using every labelled item as an example (minus itself)."""
    scores = weight * zero_shot_scores(item_vectors, interest_vectors)
    unlabelled = np.setdiff1d(np.arange(len(items)), labelled)
    if len(unlabelled):
        scores[unlabelled] += neighbour_scores(
            item_vectors[unlabelled], item_vectors[labelled], truth[labelled]
        )
    # A labelled item must not vote for its own labels (the same leave-one-out as calibration).
    scores[labelled] += neighbour_scores(
        item_vectors[labelled], item_vectors[labelled], truth[labelled], exclude_self=True
    )
    # complete for this kind's interests: proposals no longer made (the catalogue or the
    # threshold changed) are removed; other kinds' proposals stay
    rels = RelSet(
        RelType.HAS_INTEREST,
        Label.ITEM,
        Label.INTEREST,
        source="llm",
        complete=frozenset(i["id"] for i in interests),
    )
    per_item: Counter[int] = Counter()
    for r, cols in enumerate(top_k(scores, k)):
        for c in cols:
            if scores[r, c] >= threshold and not truth[r, c]:
                rels.add(items[r]["id"], interests[c]["id"], weight=round(float(scores[r, c]), 6))
                per_item[r] += 1
    plan = GraphPlan("llm-tagging", relationships=[rels])
    written = write_plan(driver, plan, database=database, progress=False)["written"]
    return {
        "edges": len(rels.rows),
        "items": len(per_item),
        "deleted": written["HAS_INTEREST:llm"]["deleted"],
    }
