"""Graph statistics: node and relationship counts, and edges by ``source``."""

from __future__ import annotations

from typing import Any

from neo4j import Driver

from graphdb import queries
from graphdb.schema import DATA_LABELS, DATA_REL_TYPES


def graph_counts(driver: Driver, database: str | None = None) -> dict[str, Any]:
    """Counts per label and relationship type (count store lookups: fast on any size)."""
    nodes = {
        label.value: driver.execute_query(
            queries.count_label(label), database_=database, routing_="r"
        ).records[0]["n"]
        for label in DATA_LABELS
    }
    relationships = {
        rel.value: driver.execute_query(
            queries.count_rel_type(rel), database_=database, routing_="r"
        ).records[0]["n"]
        for rel in DATA_REL_TYPES
    }
    by_source: dict[str, int] = {}
    for record in driver.execute_query(
        queries.COUNT_BY_SOURCE, database_=database, routing_="r"
    ).records:
        by_source[f"{record['type']}:{record['source']}"] = record["n"]
    return {"nodes": nodes, "relationships": relationships, "relationships_by_source": by_source}
