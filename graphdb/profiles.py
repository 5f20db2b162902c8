"""Write profile texts onto nodes: ``User.text`` (the profile a user's text prefers) and
``Item.text`` (an item's description), with ``text_source`` saying who wrote them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import Driver

from graphdb.schema import Label


def nodes_with_text(driver: Driver, label: Label, database: str | None = None) -> set[str]:
    """Ids of nodes that already carry a ``text``."""
    records = driver.execute_query(
        f"MATCH (n:{Label(label).value}) WHERE n.text IS NOT NULL RETURN n.id AS id",
        database_=database,
        routing_="r",
    ).records
    return {r["id"] for r in records}


def write_texts(
    driver: Driver,
    label: Label,
    rows: Sequence[dict[str, Any]],
    database: str | None = None,
    batch_size: int = 5_000,
) -> int:
    """Set ``text`` and ``text_source`` from rows ``{id, text, source}``; unknown ids are
    skipped. Returns the nodes updated."""
    updated = 0
    for start in range(0, len(rows), batch_size):
        summary = driver.execute_query(
            f"UNWIND $rows AS row MATCH (n:{Label(label).value} {{id: row.id}}) "
            "SET n.text = row.text, n.text_source = row.source",
            rows=list(rows[start : start + batch_size]),
            database_=database,
        ).summary
        updated += summary.counters.properties_set // 2
    return updated
