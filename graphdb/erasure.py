"""Forgetting a user in the graph: the node and every relationship touching it go in one write
transaction, and the aggregates that counted the user's events are recounted in the same one.

What counted them: ``HAS_INTEREST {source:'user_tag'}`` on the items they tagged (its weight is
the number of distinct taggers; an edge nobody supports any more is deleted), and the
explanation paths stored on other users' predictions that pass through them (dropped). Co-occurrence
``RELATED_TO`` edges are recomputed afterwards by ``relate-interests`` (the composition root
runs it), since a user shifts counts across the whole interest graph.
"""

from __future__ import annotations

import json
from typing import Any

from neo4j import Driver, ManagedTransaction

from graphdb.explanations import decode_paths, encode_paths

FORGET_USER = """
MATCH (u:User {id: $id})
OPTIONAL MATCH (u)-[t:TAGGED]->(i:Item)
WITH u, [p IN collect(DISTINCT {item: i.id, interest: t.interest}) WHERE p.item IS NOT NULL]
     AS tagged
WITH u, tagged, u.embedding_key AS embedding_key,
     CASE WHEN u.text_source IS NOT NULL THEN u.text END AS profile,
     COUNT { (u)--() } AS relationships
DETACH DELETE u
RETURN tagged, embedding_key, profile, relationships
"""

RECOUNT_USER_TAGS = """
UNWIND $pairs AS p
MATCH (i:Item {id: p.item})-[h:HAS_INTEREST {source: 'user_tag'}]->(t:Interest {id: p.interest})
WITH h, COUNT { (:User)-[e:TAGGED]->(i) WHERE e.interest = t.id } AS taggers
SET h.weight = taggers
WITH h WHERE taggers = 0
DELETE h
RETURN count(*) AS deleted
"""

#: predictions whose stored explanation paths may pass through the user (another user's
#: "similar users" or "friend" path); the exact check is made on the decoded paths
PATHS_MENTIONING = """
MATCH ()-[p:PREDICTED_ITEM|PREDICTED_INTEREST]->() WHERE p.explanations CONTAINS $needle
RETURN elementId(p) AS rel, p.explanations AS explanations
"""

REWRITE_PATHS = """
UNWIND $rows AS row
MATCH ()-[p]->() WHERE elementId(p) = row.rel
SET p.explanations = row.explanations
"""

HAS_COOCCURRENCE = "RETURN EXISTS { ()-[:RELATED_TO {source: 'cooccurrence'}]->() } AS found"


def forget_user_in_graph(
    driver: Driver, user_id: str, database: str | None = None
) -> dict[str, Any]:
    """Delete the user and recount what their tags supported, atomically. Returns what was
    removed and what the caller must still clean (the node's embedding cache key, its generated
    profile); ``found`` is False when the user is not (or no longer) in the graph."""

    def work(tx: ManagedTransaction) -> dict[str, Any]:
        record = tx.run(FORGET_USER, id=user_id).single()
        if record is None:
            return {
                "found": False,
                "relationships": 0,
                "tag_edges_deleted": 0,
                "paths_rewritten": _drop_paths_through(tx, user_id),
            }
        tagged = record["tagged"]
        deleted = tx.run(RECOUNT_USER_TAGS, pairs=tagged).single()["deleted"] if tagged else 0
        return {
            "found": True,
            "paths_rewritten": _drop_paths_through(tx, user_id),
            "relationships": record["relationships"],
            "tagged_pairs": len(tagged),
            "tag_edges_deleted": deleted,
            "embedding_key": record["embedding_key"],
            "profile": record["profile"],
        }

    with driver.session(database=database) as session:
        return session.execute_write(work)


def _drop_paths_through(tx: ManagedTransaction, user_id: str) -> int:
    """Remove, from every stored explanation, the paths whose middle passes through the user;
    returns the predictions rewritten."""
    rows = []
    for record in tx.run(PATHS_MENTIONING, needle=json.dumps(user_id)):
        paths = decode_paths(record["explanations"])
        kept = [p for p in paths if user_id not in p["nodes"][1:-1]]
        if len(kept) != len(paths):
            rows.append({"rel": record["rel"], "explanations": encode_paths(kept)})
    if rows:
        tx.run(REWRITE_PATHS, rows=rows).consume()
    return len(rows)


def has_cooccurrence(driver: Driver, database: str | None = None) -> bool:
    """Whether ``relate-interests`` wrote co-occurrence edges (which then need recomputing)."""
    return bool(
        driver.execute_query(HAS_COOCCURRENCE, database_=database, routing_="r").records[0]["found"]
    )
