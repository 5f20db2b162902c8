"""Interest-level reads and writes: usage for canonicalisation, merges that lose nothing, and
the co-occurrence inputs and stale-edge cleanup of the ``RELATED_TO`` interest graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from neo4j import Driver

INTEREST_USAGE = """
MATCH (t:Interest)
RETURN t.id AS id, coalesce(t.name, t.id) AS name, coalesce(t.kind, 'tag') AS kind,
       COUNT { (t)<-[:HAS_INTEREST|INTERESTED_IN]-() } AS uses
ORDER BY id
"""

# Every HAS_INTEREST / INTERESTED_IN edge of the merged node is re-created on the canonical node
# with all its properties (plus merged_from), so counts and weights are unchanged; TAGGED events
# name their interest by id and are re-pointed the same way. RELATED_TO and
# PREDICTED_INTEREST edges are derived data: DETACH DELETE drops them; rebuild them with
# `relate-interests` and `predict`.
MERGE_INTO_CANONICAL = """
UNWIND $merges AS m
MATCH (old:Interest {id: m.old}), (new:Interest {id: m.new})
CALL (old, new) {
  MATCH (i:Item)-[r:HAS_INTEREST]->(old)
  CREATE (i)-[moved:HAS_INTEREST]->(new)
  SET moved = properties(r), moved.merged_from = old.id
  DELETE r
}
CALL (old, new) {
  MATCH (u:User)-[r:INTERESTED_IN]->(old)
  CREATE (u)-[moved:INTERESTED_IN]->(new)
  SET moved = properties(r), moved.merged_from = old.id
  DELETE r
}
CALL (old, new) {
  MATCH (:User)-[e:TAGGED {interest: old.id}]->(:Item)
  SET e.interest = new.id, e.merged_from = old.id
}
SET new.aliases = reduce(acc = coalesce(new.aliases, []),
                         a IN coalesce(old.aliases, []) + [old.name, old.id] |
                         CASE WHEN a IS NULL OR a IN acc THEN acc ELSE acc + a END)
DETACH DELETE old
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
    """Apply ``[{old, new}]`` merges, ``batch_size`` per transaction; returns merges applied."""
    for start in range(0, len(merges), batch_size):
        driver.execute_query(
            MERGE_INTO_CANONICAL,
            merges=list(merges[start : start + batch_size]),
            database_=database,
        )
    return len(merges)


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


def related_pairs(driver: Driver, source: str, database: str | None = None) -> set[tuple[str, str]]:
    """Existing ``RELATED_TO`` pairs of one source."""
    records = driver.execute_query(
        "MATCH (a:Interest)-[r:RELATED_TO {source: $source}]->(b:Interest) "
        "RETURN a.id AS a, b.id AS b",
        source=source,
        database_=database,
        routing_="r",
    ).records
    return {(r["a"], r["b"]) for r in records}


def delete_related(
    driver: Driver, pairs: Sequence[tuple[str, str]], source: str, database: str | None = None
) -> int:
    """Delete ``RELATED_TO`` edges of ``source`` between the given pairs (stale ones)."""
    for start in range(0, len(pairs), 10_000):
        chunk = pairs[start : start + 10_000]
        driver.execute_query(
            "UNWIND $pairs AS p MATCH (:Interest {id: p[0]})-[r:RELATED_TO {source: $source}]->"
            "(:Interest {id: p[1]}) DELETE r",
            pairs=[list(p) for p in chunk],
            source=source,
            database_=database,
        )
    return len(pairs)
