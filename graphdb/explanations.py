"""Explanation paths: the graph paths of at most three hops from a user to candidate items or
interests, read in the caller's transaction.

Every query takes the user and the candidates as parameters and returns, per path, the ids of
its nodes in order, the relationships as they are stored (type, start id, end id), the
*fan-out* of each middle node, the weights of ``RELATED_TO`` edges on the path and its score.
The fan-out of a middle node is its degree over the relationship that leads on toward the
candidate (the items an interest is on, the users who rated an item, the items a user
rated…): a middle node with few ways onward is specific to this pair. A path's score is
``Π 1/ln(2 + fan-out) × Π RELATED_TO weight`` (see :mod:`serving.explanations`).

Search bounds keep every query proportional to the user, not to the graph: similar-user paths
go through the user's ``$scan`` rarest items only (the ones that explain most anyway), shared
interests are joined on the interest (``USING JOIN``: the user's side and the candidates' side
are expanded once each, never a popular interest's every item), and each kind returns at most
``$per_kind`` paths per candidate, the most specific first.

The batch prediction job stores each prediction's best paths with it (:func:`encode_paths`);
the serving layer re-checks them with :func:`existing_relationships` in the transaction that
reads the predictions, so a served path always exists, at the cost of a few index lookups
instead of the path search.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from neo4j import Driver, ManagedTransaction

#: The rank of a path inside its kind: specificity (1 / ln(2 + fan-out) per middle node, times
#: RELATED_TO weights), then the user's own edge weight, then ids, then the edges themselves
#: (two RELATED_TO edges, one each way, join the same nodes), so the order is total and the
#: stored paths never depend on the order edges were written in.
_TOP_PER_CANDIDATE = """
WITH cid, path, score, user_weight
ORDER BY cid, score DESC, user_weight DESC, path.key, path.rels
WITH cid, collect(path {.*, user_weight: user_weight, score: score})[..$per_kind] AS paths
UNWIND paths AS path
RETURN cid AS candidate, path
"""


def _similar_users(last: str, label: str) -> str:
    """user -INTERACTED-> item <-INTERACTED- other user -``last``-> candidate (a ``label``).

    The user's side (their ``$scan`` rarest items and those items' other users) and the
    candidates' side (the candidates' users) are expanded once each and hash-joined on the
    other user; collecting the rare items first keeps the join out of a per-item loop, which
    would expand every candidate's users once per rare item (2× slower for items, 8× for
    interests on movielens-small, same paths)."""
    return f"""
MATCH (u:User {{id: $user}})-[:INTERACTED]->(rare:Item)
WITH u, rare ORDER BY COUNT {{ (rare)<-[:INTERACTED]-() }}, rare.id LIMIT $scan
WITH u, collect(rare) AS rare
MATCH (u)-[r:INTERACTED]->(i:Item)<-[:INTERACTED]-(v:User)-[:{last}]->(c:{label})
USING JOIN ON v
WHERE i IN rare AND v <> u AND c.id IN $candidates
WITH c.id AS cid, i, r, v, COUNT {{ (i)<-[:INTERACTED]-() }} AS i_fan,
     COUNT {{ (v)-[:{last}]->() }} AS v_fan
WITH cid, 1.0 / (log(2 + i_fan) * log(2 + v_fan)) AS score, r.weight AS user_weight,
     {{key: i.id + '|' + v.id, nodes: [$user, i.id, v.id, cid],
      names: [null, i.title, v.name, null],
      rels: [['INTERACTED', $user, i.id], ['INTERACTED', v.id, i.id], ['{last}', v.id, cid]],
      fans: [i_fan, v_fan], weights: []}} AS path
"""


def _friend(last: str, label: str) -> str:
    """user -FRIEND- friend -``last``-> candidate (a ``label``)."""
    return f"""
MATCH (u:User {{id: $user}})-[f:FRIEND]-(v:User)
WITH v, f, COUNT {{ (v)-[:{last}]->() }} AS v_fan
UNWIND $candidates AS cid
MATCH (v)-[:{last}]->(c:{label} {{id: cid}})
WITH cid, 1.0 / log(2 + v_fan) AS score, 1.0 AS user_weight,
     {{key: v.id, nodes: [$user, v.id, cid], names: [null, v.name, null],
      rels: [['FRIEND', startNode(f).id, endNode(f).id], ['{last}', v.id, cid]],
      fans: [v_fan], weights: []}} AS path
"""


_ITEM_QUERIES = {
    # user -INTERACTED-> item -HAS_INTEREST-> interest <-HAS_INTEREST- candidate
    "shared_interest": """
MATCH (u:User {id: $user})-[r:INTERACTED]->(i:Item)-[:HAS_INTEREST]->(t:Interest)
      <-[:HAS_INTEREST]-(c:Item)
USING JOIN ON t
WHERE c.id IN $candidates AND c <> i
WITH c.id AS cid, i, r, t, COUNT { (i)-[:HAS_INTEREST]->() } AS i_fan,
     COUNT { (t)<-[:HAS_INTEREST]-() } AS t_fan
WITH cid, 1.0 / (log(2 + i_fan) * log(2 + t_fan)) AS score, r.weight AS user_weight,
     {key: i.id + '|' + t.id,
      nodes: [$user, i.id, t.id, cid], names: [null, i.title, t.name, null],
      rels: [['INTERACTED', $user, i.id], ['HAS_INTEREST', i.id, t.id],
             ['HAS_INTEREST', cid, t.id]],
      fans: [i_fan, t_fan], weights: []} AS path
""",
    # user -INTERESTED_IN-> interest <-HAS_INTEREST- candidate
    "held_interest": """
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(t:Interest)
WITH t, r, COUNT { (t)<-[:HAS_INTEREST]-() } AS t_fan
UNWIND $candidates AS cid
MATCH (c:Item {id: cid})-[:HAS_INTEREST]->(t)
WITH cid, 1.0 / log(2 + t_fan) AS score, r.weight AS user_weight,
     {key: t.id, nodes: [$user, t.id, cid], names: [null, t.name, null],
      rels: [['INTERESTED_IN', $user, t.id], ['HAS_INTEREST', cid, t.id]],
      fans: [t_fan], weights: []} AS path
""",
    # user -INTERESTED_IN-> interest -RELATED_TO- interest <-HAS_INTEREST- candidate
    "related_interest": """
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(t:Interest)-[rel:RELATED_TO]-(t2:Interest)
WITH u, t, t2, rel, r, COUNT { (t)-[:RELATED_TO]-() } AS t_fan,
     COUNT { (t2)<-[:HAS_INTEREST]-() } AS t2_fan
UNWIND $candidates AS cid
MATCH (c:Item {id: cid})-[:HAS_INTEREST]->(t2)
WHERE NOT (u)-[:INTERESTED_IN]->(t2)
WITH cid, coalesce(rel.weight, 1.0) / (log(2 + t_fan) * log(2 + t2_fan)) AS score,
     r.weight AS user_weight,
     {key: t.id + '|' + t2.id, nodes: [$user, t.id, t2.id, cid],
      names: [null, t.name, t2.name, null],
      rels: [['INTERESTED_IN', $user, t.id],
             ['RELATED_TO', startNode(rel).id, endNode(rel).id], ['HAS_INTEREST', cid, t2.id]],
      fans: [t_fan, t2_fan], weights: [coalesce(rel.weight, 1.0)]} AS path
""",
    "similar_users": _similar_users("INTERACTED", "Item"),
    "friend": _friend("INTERACTED", "Item"),
}

_INTEREST_QUERIES = {
    # user -INTERACTED-> item -HAS_INTEREST-> candidate
    "via_items": """
MATCH (u:User {id: $user})-[r:INTERACTED]->(i:Item)-[:HAS_INTEREST]->(c:Interest)
WHERE c.id IN $candidates
WITH c.id AS cid, r, i, COUNT { (i)-[:HAS_INTEREST]->() } AS i_fan
WITH cid, 1.0 / log(2 + i_fan) AS score, r.weight AS user_weight,
     {key: i.id, nodes: [$user, i.id, cid], names: [null, i.title, null],
      rels: [['INTERACTED', $user, i.id], ['HAS_INTEREST', i.id, cid]],
      fans: [i_fan], weights: []} AS path
""",
    # user -INTERESTED_IN-> interest -RELATED_TO- candidate
    "related_interest": """
MATCH (u:User {id: $user})-[r:INTERESTED_IN]->(t:Interest)-[rel:RELATED_TO]-(c:Interest)
WHERE c.id IN $candidates
WITH c.id AS cid, r, t, rel, COUNT { (t)-[:RELATED_TO]-() } AS t_fan
WITH cid, coalesce(rel.weight, 1.0) / log(2 + t_fan) AS score, r.weight AS user_weight,
     {key: t.id, nodes: [$user, t.id, cid], names: [null, t.name, null],
      rels: [['INTERESTED_IN', $user, t.id],
             ['RELATED_TO', startNode(rel).id, endNode(rel).id]],
      fans: [t_fan], weights: [coalesce(rel.weight, 1.0)]} AS path
""",
    "similar_users": _similar_users("INTERESTED_IN", "Interest"),
    "friend": _friend("INTERESTED_IN", "Interest"),
}

#: target ("item" or "interest") → path kind → query
PATH_QUERIES: dict[str, dict[str, str]] = {
    "item": {kind: q + _TOP_PER_CANDIDATE for kind, q in _ITEM_QUERIES.items()},
    "interest": {kind: q + _TOP_PER_CANDIDATE for kind, q in _INTEREST_QUERIES.items()},
}


def explanation_paths(
    tx: ManagedTransaction,
    user: str,
    target: str,
    candidates: Sequence[str],
    per_kind: int = 3,
    scan: int = 50,
) -> dict[str, list[dict[str, Any]]]:
    """Candidate id → raw paths (each with ``kind``, ``nodes``, ``names``, ``rels``, ``fans``,
    ``weights``), at most ``per_kind`` of each kind, read in ``tx``."""
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in candidates}
    if not candidates:
        return out
    for kind, query in PATH_QUERIES[target].items():
        result = tx.run(query, user=user, candidates=list(candidates), per_kind=per_kind, scan=scan)
        for record in result:
            out[record["candidate"]].append({"kind": kind, **record["path"]})
    return out


def best_paths(raws: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most specific paths, every kind merged (ties: the user's stronger edge,
    then the path's ids, for a stable order). A path through the same nodes as a better one
    (parallel relationships from different sources, a catalogue genre and a user's tag on the
    same item) says nothing new to a reader and is left out."""
    ranked = sorted(
        raws, key=lambda p: (-p["score"], -(p.get("user_weight") or 0.0), p["kind"], p["key"])
    )
    seen: set[tuple[str, ...]] = set()
    distinct = []
    for path in ranked:
        nodes = (path["kind"], *path["nodes"])
        if nodes not in seen:
            seen.add(nodes)
            distinct.append(path)
    return distinct[:limit]


def encode_paths(paths: list[dict[str, Any]]) -> str:
    """Paths as stored on a prediction (``explanations``, a JSON string property)."""
    return json.dumps(paths, separators=(",", ":"))


def decode_paths(stored: str | None) -> list[dict[str, Any]]:
    return json.loads(stored) if stored else []


#: the labels at either end of each relationship type paths use
_ENDS = {
    "INTERACTED": ("User", "Item"),
    "HAS_INTEREST": ("Item", "Interest"),
    "INTERESTED_IN": ("User", "Interest"),
    "RELATED_TO": ("Interest", "Interest"),
    "FRIEND": ("User", "User"),
}


def _existing_statement() -> str:
    parts = [
        f"UNWIND $pairs['{rel_type}'] AS p MATCH (a:{start} {{id: p[0]}})-[:{rel_type}]->"
        f"(b:{end} {{id: p[1]}}) RETURN DISTINCT '{rel_type}' AS type, p"
        for rel_type, (start, end) in _ENDS.items()
    ]
    # one record back, not one per relationship: the driver pays per record streamed
    return "CALL () {\n" + "\nUNION ALL\n".join(parts) + "\n}\nRETURN collect([type, p]) AS found"


#: one statement checks every relationship type (one round trip, one cached plan)
_EXISTING = _existing_statement()


def existing_relationships(
    tx: ManagedTransaction, rels: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which ``(type, start id, end id)`` relationships exist now, read in ``tx``: how stored
    paths are checked before they are served."""
    pairs: dict[str, set[tuple[str, str]]] = {rel_type: set() for rel_type in _ENDS}
    for rel_type, start, end in rels:
        if rel_type in pairs:
            pairs[rel_type].add((start, end))
    if not any(pairs.values()):
        return set()
    record = tx.run(_EXISTING, pairs={t: [list(p) for p in ps] for t, ps in pairs.items()}).single()
    found = record["found"] if record else []
    return {(rel_type, pair[0], pair[1]) for rel_type, pair in found}


def paths_for_predictions(
    driver: Driver,
    target: str,
    users: Sequence[str],
    candidates: Sequence[str],
    limit: int,
    database: str | None = None,
) -> list[str]:
    """The encoded best ``limit`` paths of each ``(users[i], candidates[i])`` prediction, read
    in one transaction for the whole chunk (what the batch job stores with its predictions)."""
    wanted: dict[str, list[str]] = {}
    for user, candidate in zip(users, candidates, strict=True):
        wanted.setdefault(user, []).append(candidate)

    def work(tx: ManagedTransaction) -> dict[str, dict[str, list[dict[str, Any]]]]:
        return {
            user: explanation_paths(tx, user, target, cands, per_kind=limit)
            for user, cands in wanted.items()
        }

    with driver.session(database=database, default_access_mode="READ") as session:
        found = session.execute_read(work)
    return [
        encode_paths(best_paths(found[user][candidate], limit))
        for user, candidate in zip(users, candidates, strict=True)
    ]
