"""Neo4j → training snapshot: every node with its embedding and every edge, streamed in pages.

Records stream over Bolt ``fetch_size`` rows at a time (the driver's paging), so memory holds
the growing columns, never a whole result's record objects. Node ids map to row indices by
their sort order; edges arrive as id pairs and are turned into index arrays with one pandas
lookup per relation.

**One consistent view.** Every query runs in one read transaction, and Neo4j's bookmark of the
last committed transaction is taken before and after it. Neo4j reads are read-committed, not
snapshot-isolated, so the one transaction alone would not stop a concurrent writer's commit
from showing up in the later queries but not the earlier ones; equal bookmarks prove no
transaction committed while the export read, so the snapshot is exactly one committed state of
the graph. When they differ (or the connection drops) the export reads again, with backoff, up
to ``attempts`` times, then fails with a clear error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from neo4j import Driver, Transaction
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError
from tqdm import tqdm

from graphdb.errors import GraphDBError
from graphdb.snapshot import (
    EDGE_COLUMNS,
    EVENT_COLUMNS,
    NODE_COLUMNS,
    NODE_TYPES,
    RELATIONS,
    Snapshot,
)

FETCH_SIZE = 10_000

#: a node's attributes (``attr_*`` properties, see the generic CSV format) as [name, text] pairs
ATTRIBUTES = "[k IN keys(n) WHERE k STARTS WITH 'attr_' | [k, toString(n[k])]] AS attributes"

NODE_QUERIES: dict[str, tuple[str, str]] = {
    "user": (
        "MATCH (n:User) RETURN count(n) AS n",
        "MATCH (n:User) RETURN n.id AS id, coalesce(n.name, n.id) AS name, n.text AS profile, "
        f"{ATTRIBUTES}, n.embedding AS embedding, n.embedding_key AS key ORDER BY id",
    ),
    # catalogue facts a new item brings (training rebuilds item texts from them); a generated
    # profile (text_source set) was written from every tag, so it is not a description
    "item": (
        "MATCH (n:Item) RETURN count(n) AS n",
        "MATCH (n:Item) CALL (n) { OPTIONAL MATCH (n)-[:HAS_INTEREST {source: 'catalog'}]->"
        "(g:Interest {kind: 'genre'}) WITH g ORDER BY g.name "
        "RETURN collect(g.name) AS catalog_genres } "
        "RETURN n.id AS id, coalesce(n.title, n.id) AS name, n.year AS year, "
        "CASE WHEN n.text_source IS NULL THEN n.text END AS description, "
        "coalesce(n.genres, catalog_genres) AS genres, "
        f"{ATTRIBUTES}, n.embedding AS embedding, n.embedding_key AS key ORDER BY id",
    ),
    "interest": (
        "MATCH (n:Interest) RETURN count(n) AS n",
        "MATCH (n:Interest) RETURN n.id AS id, coalesce(n.name, n.id) AS name, "
        "coalesce(n.kind, 'topic') AS kind, n.embedding AS embedding, n.embedding_key AS key "
        "ORDER BY id",
    ),
}

EDGE_QUERIES: dict[str, tuple[str, str]] = {
    "interacted": (
        "MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n",
        "MATCH (s:User)-[r:INTERACTED]->(t:Item) "
        "RETURN s.id, t.id, coalesce(r.weight, 1.0), coalesce(r.ts, -1), 'interaction'",
    ),
    "interested_in": (
        "MATCH ()-[r:INTERESTED_IN]->() RETURN count(r) AS n",
        "MATCH (s:User)-[r:INTERESTED_IN]->(t:Interest) "
        "RETURN s.id, t.id, coalesce(r.weight, 1.0), coalesce(r.ts, -1), "
        "coalesce(r.source, 'unknown')",
    ),
    "has_interest": (
        "MATCH ()-[r:HAS_INTEREST]->() RETURN count(r) AS n",
        "MATCH (s:Item)-[r:HAS_INTEREST]->(t:Interest) "
        "RETURN s.id, t.id, coalesce(r.weight, 1.0), -1, coalesce(r.source, 'unknown')",
    ),
    "friend": (
        "MATCH ()-[r:FRIEND]->() RETURN count(r) AS n",
        "MATCH (s:User)-[r:FRIEND]->(t:User) RETURN s.id, t.id, 1.0, -1, 'friend'",
    ),
    "related_to": (
        "MATCH ()-[r:RELATED_TO]->() RETURN count(r) AS n",
        "MATCH (s:Interest)-[r:RELATED_TO]->(t:Interest) "
        "RETURN s.id, t.id, coalesce(r.weight, 1.0), -1, coalesce(r.source, 'unknown')",
    ),
}


def export_snapshot(
    driver: Driver, database: str | None = None, progress: bool = True, attempts: int = 4
) -> tuple[Snapshot, dict[str, Any]]:
    """Read the whole graph, as one committed state, into a :class:`Snapshot`; returns it with
    timing figures and the number of attempts it took.

    Raises :class:`GraphDBError` when a node has no embedding (run ``interestgraph embed``),
    nodes were embedded by different models, or the graph kept changing (or Neo4j kept
    failing) for ``attempts`` reads.
    """
    problem = ""
    for attempt in range(1, attempts + 1):
        before = last_commit(driver, database)
        try:
            with (
                driver.session(
                    database=database, fetch_size=FETCH_SIZE, default_access_mode="READ"
                ) as session,
                session.begin_transaction() as tx,
            ):
                snapshot, report = _read_graph(tx, progress)
        except (ServiceUnavailable, SessionExpired, TransientError) as e:
            problem = f"Neo4j failed ({type(e).__name__}: {e})"
        else:
            if last_commit(driver, database) == before:
                return snapshot, {**report, "attempts": attempt}
            problem = "the graph changed while export read it"
        if attempt < attempts:
            time.sleep(2 ** (attempt - 1))
    raise GraphDBError(
        f"{problem}, {attempts} reads in a row; pause the jobs writing to it and export again"
    )


def last_commit(driver: Driver, database: str | None = None) -> frozenset[str]:
    """Neo4j's bookmark of the last committed transaction, as seen by a fresh read."""
    with driver.session(database=database, default_access_mode="READ") as session:
        session.execute_read(lambda tx: tx.run("RETURN 1").consume())
        return frozenset(session.last_bookmarks().raw_values)


def _read_graph(tx: Transaction, progress: bool) -> tuple[Snapshot, dict[str, Any]]:
    """Every node, embedding, edge and tagging event, read inside ``tx``."""
    started = time.perf_counter()
    nodes: dict[str, pd.DataFrame] = {}
    embeddings: dict[str, np.ndarray] = {}
    models: set[str] = set()
    for node_type in NODE_TYPES:
        count_query, query = NODE_QUERIES[node_type]
        rows = list(_stream(tx, count_query, query, f"export {node_type}", progress))
        missing = [r[0] for r in rows if r[-2] is None]
        if missing:
            raise GraphDBError(
                f"{len(missing)} {node_type} node(s) have no embedding (first: {missing[0]!r}); "
                "run `interestgraph embed` before `export`"
            )
        models.update(str(r[-1]).rsplit(":", 1)[0] for r in rows if r[-1])
        columns = NODE_COLUMNS[node_type]
        frame = pd.DataFrame([r[: len(columns)] for r in rows], columns=columns)
        if "attributes" in query:
            frame = _with_attributes(frame, [r[len(columns)] for r in rows])
        nodes[node_type] = frame
        embeddings[node_type] = (
            np.asarray([r[-2] for r in rows], dtype=np.float32)
            if rows
            else np.zeros((0, 0), dtype=np.float32)
        )
    if len(models) > 1:
        raise GraphDBError(
            f"nodes were embedded by different models ({', '.join(sorted(models))}); "
            "run `interestgraph embed` again with one model"
        )
    dims = {e.shape[1] for e in embeddings.values() if len(e)}
    if len(dims) > 1:
        raise GraphDBError(f"embeddings of different sizes {sorted(dims)}; run `embed` again")
    width = next(iter(dims), 0)
    for node_type, matrix in embeddings.items():
        if not len(matrix):  # e.g. a dataset with no interests: keep the column count
            embeddings[node_type] = np.zeros((0, width), dtype=np.float32)
    node_seconds = time.perf_counter() - started
    edges: dict[str, pd.DataFrame] = {}
    edge_started = time.perf_counter()
    for relation, (src_type, dst_type) in RELATIONS.items():
        count_query, query = EDGE_QUERIES[relation]
        rows = list(_stream(tx, count_query, query, f"export {relation}", progress))
        frame = pd.DataFrame(rows, columns=["src_id", "dst_id", "weight", "ts", "source"])
        frame["src"] = _indices(nodes[src_type]["id"], frame["src_id"])
        frame["dst"] = _indices(nodes[dst_type]["id"], frame["dst_id"])
        # every column in the key: edges between the same two nodes (another source) come back in
        # storage order, which must not reach the files or their hash
        frame = frame.sort_values(["src", "dst", "source", "ts", "weight"]).reset_index(drop=True)
        edges[relation] = frame.astype(
            {"src": "int64", "dst": "int64", "weight": "float32", "ts": "int64"}
        )[list(EDGE_COLUMNS)]
    events = _tag_events(tx, nodes, progress)
    edge_seconds = time.perf_counter() - edge_started
    total_edges = sum(len(f) for f in edges.values()) + len(events)
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": next(iter(models), None),
    }
    report = {
        "node_seconds": round(node_seconds, 3),
        "edge_seconds": round(edge_seconds, 3),
        "edges_per_second": round(total_edges / edge_seconds, 1) if edge_seconds else None,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Snapshot(nodes, embeddings, edges, manifest, events), report


def _tag_events(tx: Transaction, nodes: dict[str, pd.DataFrame], progress: bool) -> pd.DataFrame:
    """Every TAGGED event as (user, item, interest) row indices and its first ``ts``."""
    rows = list(
        _stream(tx, TAG_EVENT_QUERIES[0], TAG_EVENT_QUERIES[1], "export tag events", progress)
    )
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "interest_id", "ts"])
    out = pd.DataFrame(
        {
            "user": _indices(nodes["user"]["id"], frame["user_id"]),
            "item": _indices(nodes["item"]["id"], frame["item_id"]),
            "interest": _indices(nodes["interest"]["id"], frame["interest_id"]),
            "ts": frame["ts"],
        }
    )
    out = out.sort_values(list(EVENT_COLUMNS), kind="stable").reset_index(drop=True)
    return out.astype({c: "int64" for c in EVENT_COLUMNS})


TAG_EVENT_QUERIES = (
    "MATCH ()-[r:TAGGED]->() RETURN count(r) AS n",
    "MATCH (u:User)-[r:TAGGED]->(i:Item) RETURN u.id, i.id, r.interest, coalesce(r.ts, -1)",
)


def _stream(
    tx: Transaction, count_query: str, query: str, desc: str, progress: bool
) -> Iterator[list[Any]]:
    """Rows of ``query`` as value lists, fetched ``FETCH_SIZE`` at a time, with a bar."""
    total = tx.run(count_query).single(strict=True)["n"]
    with tqdm(
        total=total, desc=desc, unit="row", file=sys.stderr, disable=not progress or None
    ) as bar:
        for record in tx.run(query):
            bar.update()
            yield record.values()


def _indices(ids: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Row index of each wanted id in ``ids`` (sorted, unique)."""
    index = pd.Index(ids)
    positions = index.get_indexer(wanted)
    if (positions < 0).any():  # pragma: no cover - edges always join existing nodes
        raise GraphDBError(f"edge endpoint {wanted[positions < 0].iloc[0]!r} is not a node")
    return positions


def _with_attributes(frame: pd.DataFrame, attributes: list[list[list[str]]]) -> pd.DataFrame:
    """``frame`` with one text column per attribute name (sorted; missing values ``None``)."""
    per_row = [dict(pairs) for pairs in attributes]
    names = sorted({name for row in per_row for name in row})
    return frame.assign(**{name: [row.get(name) for row in per_row] for name in names})
