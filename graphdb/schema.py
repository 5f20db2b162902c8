"""Graph schema: node labels, relationship types, constraints and indexes.

Labels and relationship types cannot be Cypher parameters, so every query that needs one takes it
from these enums; user input never reaches a label position.
"""

from __future__ import annotations

from enum import StrEnum

from neo4j import Driver


class Label(StrEnum):
    """Node labels of the interest graph."""

    USER = "User"
    ITEM = "Item"
    INTEREST = "Interest"
    PREDICTION_RUN = "PredictionRun"
    JOB_LOCK = "JobLock"


class RelType(StrEnum):
    """Relationship types of the interest graph."""

    INTERACTED = "INTERACTED"
    HAS_INTEREST = "HAS_INTEREST"
    INTERESTED_IN = "INTERESTED_IN"
    RELATED_TO = "RELATED_TO"
    FRIEND = "FRIEND"
    TAGGED = "TAGGED"
    PREDICTED_ITEM = "PREDICTED_ITEM"
    PREDICTED_INTEREST = "PREDICTED_INTEREST"


#: Labels whose ``id`` is unique; every loader MERGEs on these.
KEYED_LABELS: tuple[Label, ...] = (
    Label.USER,
    Label.ITEM,
    Label.INTEREST,
    Label.PREDICTION_RUN,
    Label.JOB_LOCK,
)

#: Graph-data labels and relationship types reported by statistics (predictions excluded).
DATA_LABELS: tuple[Label, ...] = (Label.USER, Label.ITEM, Label.INTEREST)
DATA_REL_TYPES: tuple[RelType, ...] = (
    RelType.INTERACTED,
    RelType.HAS_INTEREST,
    RelType.INTERESTED_IN,
    RelType.RELATED_TO,
    RelType.FRIEND,
    RelType.TAGGED,
)


def _schema_statements() -> list[str]:
    statements = [
        f"CREATE CONSTRAINT {label.value.lower()}_id IF NOT EXISTS "
        f"FOR (n:{label.value}) REQUIRE n.id IS UNIQUE"
        for label in KEYED_LABELS
    ]
    statements += [
        "CREATE INDEX interest_kind IF NOT EXISTS FOR (n:Interest) ON (n.kind)",
        "CREATE INDEX item_title IF NOT EXISTS FOR (n:Item) ON (n.title)",
        "CREATE INDEX prediction_run_status IF NOT EXISTS FOR (n:PredictionRun) ON (n.status)",
        "CREATE INDEX has_interest_source IF NOT EXISTS FOR ()-[r:HAS_INTEREST]-() ON (r.source)",
        "CREATE INDEX interested_in_source IF NOT EXISTS FOR ()-[r:INTERESTED_IN]-() ON (r.source)",
        "CREATE INDEX tagged_interest IF NOT EXISTS FOR ()-[r:TAGGED]-() ON (r.interest)",
        "CREATE INDEX predicted_item_run IF NOT EXISTS FOR ()-[r:PREDICTED_ITEM]-() ON (r.run)",
        "CREATE INDEX predicted_interest_run IF NOT EXISTS "
        "FOR ()-[r:PREDICTED_INTEREST]-() ON (r.run)",
    ]
    return statements


def ensure_schema(driver: Driver, database: str | None = None) -> None:
    """Create constraints and indexes if missing (idempotent), then wait until they are online.

    Constraints come before any load so every MERGE is an index lookup, not a label scan.
    """
    for statement in _schema_statements():
        driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
