"""Which Neo4j to talk to: NEO4J_URI/USER/PASSWORD if given, else the running local Neo4j.

The caller owns the driver (as in neo4j-graphrag): :func:`open_driver` makes one from a
:class:`Neo4jTarget`, and every other function in this layer takes that driver as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neo4j import Driver, GraphDatabase, NotificationDisabledClassification
from neo4j.exceptions import AuthError, ServiceUnavailable

from graphdb.errors import ConnectionNotConfigured, GraphDBError
from graphdb.local import LocalNeo4j


@dataclass(frozen=True)
class Neo4jTarget:
    """Where and how to connect; ``source`` says whether it came from the environment or local."""

    uri: str
    user: str
    password: str
    database: str | None = None
    source: str = "env"


def resolve_target(
    home: Path,
    uri: str | None = None,
    user: str = "neo4j",
    password: str = "",
    database: str | None = None,
) -> Neo4jTarget:
    """Pick the Neo4j: an explicit ``uri`` (NEO4J_URI) wins, else the local Neo4j of ``home``.

    Raises :class:`ConnectionNotConfigured` with the command to run when neither exists.
    """
    if uri:
        return Neo4jTarget(uri=uri, user=user, password=password, database=database, source="env")
    state = LocalNeo4j(home).running_state()
    if state is None:
        raise ConnectionNotConfigured(
            "No Neo4j to connect to: start the local one with `interestgraph db start`, "
            "or point at another with NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD."
        )
    return Neo4jTarget(
        uri=state.uri, user=state.user, password=state.password, database=database, source="local"
    )


def open_driver(target: Neo4jTarget) -> Driver:
    """Open a driver and check that Bolt answers and the credentials work."""
    driver = GraphDatabase.driver(
        target.uri,
        auth=(target.user, target.password),
        # Counting a relationship type no load has created yet is normal here, not a typo.
        notifications_disabled_classifications=[NotificationDisabledClassification.UNRECOGNIZED],
    )
    try:
        driver.verify_connectivity()
    except AuthError as e:
        driver.close()
        raise GraphDBError(
            f"Neo4j at {target.uri} refused user '{target.user}': {e.message}"
        ) from e
    except (ServiceUnavailable, OSError) as e:
        driver.close()
        hint = (
            "run `interestgraph db status` (the local Neo4j may have died)"
            if target.source == "local"
            else "check NEO4J_URI"
        )
        raise GraphDBError(f"Neo4j at {target.uri} does not answer: {e}; {hint}") from e
    return driver
