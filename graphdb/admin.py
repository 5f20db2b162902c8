"""Destructive maintenance, kept apart so nothing calls it by accident."""

from __future__ import annotations

from neo4j import Driver

from graphdb import queries


def clear_graph(driver: Driver, database: str | None = None, batch: int = 20_000) -> int:
    """Delete every node and relationship in batches (schema stays); returns nodes deleted.

    Relationships go first, in batches of their own: a batch of nodes can hold far more
    relationships than ``batch`` (a Last.fm user has hundreds of events), which would exceed
    the server's transaction memory."""
    while driver.execute_query(
        queries.DELETE_RELATIONSHIPS_BATCH, limit=batch, database_=database
    ).records[0]["deleted"]:
        pass
    total = 0
    while True:
        deleted = driver.execute_query(
            queries.DELETE_ALL_BATCH, limit=batch, database_=database
        ).records[0]["deleted"]
        total += deleted
        if deleted == 0:
            return total
