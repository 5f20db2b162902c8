"""Interest-level reads and writes: usage for canonicalisation, merges that lose nothing (and
the map of merged ids a later ingest follows), and the co-occurrence inputs of the
``RELATED_TO`` interest graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from neo4j import Driver, ManagedTransaction

from graphdb.failpoints import reach

INTEREST_USAGE = """
MATCH (t:Interest)
RETURN t.id AS id, coalesce(t.name, t.id) AS name, coalesce(t.kind, 'tag') AS kind,
       COUNT { (t)<-[:HAS_INTEREST|INTERESTED_IN]-() } AS uses
ORDER BY id
"""

# Every HAS_INTEREST / INTERESTED_IN edge of the merged node is moved to the canonical node with
# its properties, and TAGGED events are re-pointed; COLLAPSE_DUPLICATES then folds edges that now
# coincide. RELATED_TO and PREDICTED_INTEREST edges are derived data: DETACH DELETE drops them;
# rebuild them with `relate-interests` and `predict`. ``merged_ids`` on the canonical node
# records every id merged into it (transitively), so a later ingest maps those ids onto it.
MERGE_INTO_CANONICAL = """
UNWIND $merges AS m
MATCH (old:Interest {id: m.old}), (new:Interest {id: m.new})
CALL (old, new) {
  MATCH (i:Item)-[r:HAS_INTEREST]->(old)
  CREATE (i)-[moved:HAS_INTEREST]->(new)
  SET moved = properties(r)
  DELETE r
}
CALL (old, new) {
  MATCH (u:User)-[r:INTERESTED_IN]->(old)
  CREATE (u)-[moved:INTERESTED_IN]->(new)
  SET moved = properties(r)
  DELETE r
}
CALL (old, new) {
  MATCH (:User)-[e:TAGGED {interest: old.id}]->(:Item)
  SET e.interest = new.id
}
SET new.aliases = reduce(acc = coalesce(new.aliases, []),
                         a IN coalesce(old.aliases, []) + [old.name, old.id] |
                         CASE WHEN a IS NULL OR a IN acc THEN acc ELSE acc + a END),
    new.merged_ids = reduce(acc = coalesce(new.merged_ids, []),
                            a IN coalesce(old.merged_ids, []) + [old.id] |
                            CASE WHEN a IN acc THEN acc ELSE acc + a END)
DETACH DELETE old
"""

# Edges that coincide after a merge (same nodes, type and source; for TAGGED, the same
# interest) become one: weights and counts added, the earliest ts kept, the same rule as
# ``graphdb.loaders.plan.combine_edges`` so a later ingest computes identical values.
COLLAPSE_DUPLICATES = """
UNWIND $ids AS id
MATCH (t:Interest {id: id})
CALL (t) {
  MATCH (s)-[r:HAS_INTEREST|INTERESTED_IN]->(t)
  WITH s, type(r) AS type, coalesce(r.source, '') AS source, collect(r) AS rels
  WHERE size(rels) > 1
  RETURN rels
  UNION
  MATCH (u:User)-[e:TAGGED {interest: t.id}]->(i:Item)
  WITH u, i, collect(e) AS rels
  WHERE size(rels) > 1
  RETURN rels
}
WITH head(rels) AS keep, tail(rels) AS extra, rels
SET keep.weight = CASE WHEN all(x IN rels WHERE x.weight IS NULL) THEN null
                       ELSE reduce(w = 0.0, x IN rels | w + coalesce(x.weight, 0.0)) END,
    keep.count = CASE WHEN all(x IN rels WHERE x.count IS NULL) THEN null
                      ELSE reduce(c = 0, x IN rels | c + coalesce(x.count, 0)) END,
    keep.ts = reduce(m = null, x IN rels |
                     CASE WHEN x.ts IS NULL THEN m WHEN m IS NULL OR x.ts < m THEN x.ts ELSE m END)
FOREACH (x IN extra | DELETE x)
RETURN sum(size(extra)) AS collapsed
"""

CANONICAL_IDS = """
MATCH (t:Interest) WHERE t.merged_ids IS NOT NULL
UNWIND t.merged_ids AS old
RETURN old, t.id AS canonical
"""

INTEREST_EDGE_COUNTS = """
MATCH ()-[r:HAS_INTEREST|INTERESTED_IN]->(:Interest)
RETURN type(r) AS type, count(r) AS n, sum(coalesce(r.weight, 0.0)) AS weight
"""


def interest_usage(driver: Driver, database: str | None = None) -> list[dict[str, Any]]:
    """Every interest with its name, kind and number of item/user edges."""
    return [
        r.data()
        for r in driver.execute_query(INTEREST_USAGE, database_=database, routing_="r").records
    ]


def interest_edge_counts(driver: Driver, database: str | None = None) -> dict[str, Any]:
    """Counts and weight sums of HAS_INTEREST and INTERESTED_IN (what a merge must keep)."""
    records = driver.execute_query(INTEREST_EDGE_COUNTS, database_=database, routing_="r").records
    return {r["type"]: {"edges": r["n"], "weight": round(r["weight"], 4)} for r in records}


def merge_into_canonical(
    driver: Driver,
    merges: Sequence[dict[str, str]],
    database: str | None = None,
    batch_size: int = 200,
) -> int:
    """Apply ``[{old, new}]`` merges, ``batch_size`` per transaction (moving the edges and
    collapsing the ones that coincide in the same transaction, so a killed run leaves whole
    merges only and a re-run finishes the rest); returns how many duplicate edges collapsed."""
    collapsed = 0

    def work(tx: ManagedTransaction, batch: list[dict[str, str]]) -> int:
        tx.run(MERGE_INTO_CANONICAL, merges=batch).consume()
        ids = sorted({m["new"] for m in batch})
        return int(tx.run(COLLAPSE_DUPLICATES, ids=ids).single(strict=True)["collapsed"])

    with driver.session(database=database) as session:
        for start in range(0, len(merges), batch_size):
            collapsed += session.execute_write(work, list(merges[start : start + batch_size]))
            reach("canonicalize.batch")
    return collapsed


def canonical_ids(driver: Driver, database: str | None = None) -> dict[str, str]:
    """Every interest id merged away by canonicalisation → the id of the interest it is now."""
    records = driver.execute_query(CANONICAL_IDS, database_=database, routing_="r").records
    return {r["old"]: r["canonical"] for r in records}


def interest_memberships(
    driver: Driver, database: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Interest ids (sorted), and (holder, interest) index pairs for co-occurrence: items with
    non-LLM ``HAS_INTEREST`` and users with ``INTERESTED_IN``; holders are numbered across both.
    Also the interests' embeddings (zeros where missing)."""
    records = driver.execute_query(
        "MATCH (t:Interest) RETURN t.id AS id, t.embedding AS embedding ORDER BY id",
        database_=database,
        routing_="r",
    ).records
    ids = [r["id"] for r in records]
    dims = next((len(r["embedding"]) for r in records if r["embedding"] is not None), 0)
    vectors = np.zeros((len(ids), dims), dtype=np.float32)
    for row, record in enumerate(records):
        if record["embedding"] is not None:
            vectors[row] = record["embedding"]
    position = {i: n for n, i in enumerate(ids)}
    pairs = driver.execute_query(
        "MATCH (i:Item)-[h:HAS_INTEREST]->(t:Interest) WHERE h.source <> 'llm' "
        "RETURN 'i' + i.id AS holder, t.id AS interest "
        "UNION ALL MATCH (u:User)-[:INTERESTED_IN]->(t:Interest) "
        "RETURN 'u' + u.id AS holder, t.id AS interest",
        database_=database,
        routing_="r",
    ).records
    holders: dict[str, int] = {}
    rows = np.fromiter((holders.setdefault(r["holder"], len(holders)) for r in pairs), np.int64)
    cols = np.fromiter((position[r["interest"]] for r in pairs), np.int64)
    return ids, rows, cols, vectors
