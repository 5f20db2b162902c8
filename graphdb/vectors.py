"""Node facts for text building, embedding write-back, vector indexes and similarity lookups.

Embeddings are written with ``db.create.setNodeVectorProperty`` (stored as a float32 vector
property) together with ``embedding_key`` = model id + text hash, so a re-run skips every node
whose text and model are unchanged. One cosine vector index per label answers
``db.index.vector.queryNodes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import Driver, ManagedTransaction

from graphdb.schema import Label

EMBEDDED_LABELS: tuple[Label, ...] = (Label.USER, Label.ITEM, Label.INTEREST)

ITEM_FACTS = """
MATCH (i:Item)
CALL (i) {
  OPTIONAL MATCH (i)-[h:HAS_INTEREST]->(t:Interest)
  WHERE h.source <> 'llm' AND t.kind <> 'genre'
  RETURN collect({name: t.name, weight: h.weight}) AS tags
}
CALL (i) {
  OPTIONAL MATCH (i)-[:HAS_INTEREST {source: 'catalog'}]->(g:Interest {kind: 'genre'})
  WITH g ORDER BY g.name
  RETURN collect(g.name) AS catalog_genres
}
RETURN i.id AS id, i.title AS title, i.year AS year, i.text AS description,
       coalesce(i.genres, catalog_genres) AS genres, tags
ORDER BY id
"""

INTEREST_FACTS = """
MATCH (t:Interest)
RETURN t.id AS id, t.name AS name, t.kind AS kind, t.description AS description ORDER BY id
"""

# Ties are broken by id (and genres listed by name) so that a node's text, and with it its
# embedding key, depends only on the graph's content, never on the order it was written in.
USER_FACTS = """
MATCH (u:User)
CALL (u) {
  OPTIONAL MATCH (u)-[r:INTERESTED_IN]->(t:Interest)
  WITH t, r ORDER BY r.weight DESC, t.id LIMIT $max_interests
  RETURN collect({name: t.name, weight: r.weight}) AS interests
}
CALL (u) {
  OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
  WITH i, r ORDER BY r.weight DESC, i.id LIMIT $max_items
  RETURN collect({name: i.title, weight: r.weight}) AS items
}
RETURN u.id AS id, u.text AS profile, interests, items ORDER BY id
"""


ITEM_INTEREST_LABELS = """
MATCH (i:Item)-[h:HAS_INTEREST]->(t:Interest {kind: $kind})
WHERE h.source <> 'llm'
RETURN i.id AS item, t.id AS interest
"""


def item_interest_labels(
    driver: Driver, kind: str, database: str | None = None
) -> list[tuple[str, str]]:
    """Non-LLM ``(item id, interest id)`` pairs for interests of one kind: the ground truth the
    tagger is calibrated and evaluated on."""
    records = driver.execute_query(
        ITEM_INTEREST_LABELS, kind=kind, database_=database, routing_="r"
    ).records
    return [(r["item"], r["interest"]) for r in records]


def index_name(label: Label) -> str:
    """Name of the vector index on ``label``'s ``embedding``."""
    return f"{Label(label).value.lower()}_embedding"


def node_facts(
    driver: Driver,
    label: Label,
    database: str | None = None,
    *,
    max_interests: int = 15,
    max_items: int = 20,
) -> list[dict[str, Any]]:
    """What the features layer needs to build each node's text, for every node of ``label``."""
    statement = {Label.ITEM: ITEM_FACTS, Label.INTEREST: INTEREST_FACTS, Label.USER: USER_FACTS}[
        Label(label)
    ]
    records = driver.execute_query(
        statement,
        max_interests=max_interests,
        max_items=max_items,
        database_=database,
        routing_="r",
    ).records
    return [record.data() for record in records]


def embedding_keys(driver: Driver, label: Label, database: str | None = None) -> dict[str, str]:
    """``id → embedding_key`` of the nodes that already carry an embedding."""
    records = driver.execute_query(
        f"MATCH (n:{Label(label).value}) WHERE n.embedding_key IS NOT NULL "
        "RETURN n.id AS id, n.embedding_key AS key",
        database_=database,
        routing_="r",
    ).records
    return {r["id"]: r["key"] for r in records}


def ensure_vector_index(
    driver: Driver, label: Label, dimensions: int, database: str | None = None
) -> None:
    """Create the label's cosine vector index; recreate it if its dimensions differ."""
    name = index_name(label)
    existing = driver.execute_query(
        "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options",
        name=name,
        database_=database,
    ).records
    if existing:
        config = existing[0]["options"]["indexConfig"]
        if int(config["vector.dimensions"]) == dimensions:
            return
        driver.execute_query(f"DROP INDEX {name}", database_=database)
    driver.execute_query(
        f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (n:{Label(label).value}) ON n.embedding "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dims, "
        "`vector.similarity_function`: 'cosine'}}",
        dims=int(dimensions),
        database_=database,
    )


def write_embeddings(
    driver: Driver,
    label: Label,
    rows: Sequence[dict[str, Any]],
    database: str | None = None,
    batch_size: int = 2_000,
) -> int:
    """Set ``embedding`` (a float32 vector property) and ``embedding_key`` from rows
    ``{id, vector, key}``; returns rows written."""
    statement = (
        f"UNWIND $rows AS row MATCH (n:{Label(label).value} {{id: row.id}}) "
        "CALL db.create.setNodeVectorProperty(n, 'embedding', row.vector) "
        "SET n.embedding_key = row.key"
    )
    for start in range(0, len(rows), batch_size):
        driver.execute_query(
            statement, rows=list(rows[start : start + batch_size]), database_=database
        )
    return len(rows)


def await_indexes(driver: Driver, database: str | None = None) -> None:
    """Block until every index is online (vector indexes populate asynchronously)."""
    driver.execute_query("CALL db.awaitIndexes(600)", database_=database)


def _similar_statement(label: Label) -> str:
    return (
        f"MATCH (n:{Label(label).value} {{id: $id}}) WHERE n.embedding IS NOT NULL "
        "CALL db.index.vector.queryNodes($index, $k + 1, n.embedding) YIELD node, score "
        "WHERE node <> n "
        "RETURN node.id AS id, coalesce(node.title, node.name, node.id) AS name, score "
        "ORDER BY score DESC LIMIT $k"
    )


def similar_nodes(
    driver: Driver,
    label: Label,
    node_id: str,
    k: int,
    target: Label | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """The ``k`` nodes of ``target`` (default: the same label) nearest to a node's embedding."""
    records = driver.execute_query(
        _similar_statement(label),
        id=node_id,
        index=index_name(target or label),
        k=k,
        database_=database,
        routing_="r",
    ).records
    return [r.data() for r in records]


def similar_nodes_in(
    tx: ManagedTransaction, label: Label, node_id: str, k: int, target: Label | None = None
) -> list[dict[str, Any]]:
    """:func:`similar_nodes` inside the caller's transaction."""
    result = tx.run(_similar_statement(label), id=node_id, index=index_name(target or label), k=k)
    return result.data()


def has_node(driver: Driver, label: Label, node_id: str, database: str | None = None) -> bool:
    """Whether a node with this id exists (to tell 'unknown id' from 'no embedding')."""
    return bool(
        driver.execute_query(
            f"MATCH (n:{Label(label).value} {{id: $id}}) RETURN count(n) > 0 AS found",
            id=node_id,
            database_=database,
            routing_="r",
        ).records[0]["found"]
    )
