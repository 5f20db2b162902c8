"""Prediction runs in the graph: written under their own id, switched to current atomically.

Protocol (every statement below takes parameters only):

1. ``begin_run``: ``MERGE (:PredictionRun {id})`` with ``status = 'writing'``. The id is a
   hash of the checkpoint, snapshot and options, so running the same job again after a crash
   finds the same run and resumes it.
2. ``write_chunk``: one transaction per chunk of users, creating every prediction of those
   users (``PREDICTED_ITEM`` / ``PREDICTED_INTEREST`` with ``{score, rank, run,
   explanations}``, the last a JSON list of the pair's best explanation paths, or null). A chunk is
   all-or-nothing, so a user has all K predictions of a target or none; ``done_users`` tells a
   resumed job whom to skip.
3. ``switch_run``: one transaction sets the old current run to ``superseded`` and this one to
   ``current``. Readers match ``(:PredictionRun {status: 'current'})`` and follow only edges
   whose ``run`` equals its id, so they see the old run until this commit and the new one after.
4. ``remove_stale_runs``: before writing, deletes runs abandoned in ``writing`` by killed jobs;
   after the switch, deletes the edges (in batches) and nodes of every run but the current one
   (and, with ``--keep-previous``, the run it replaced, for comparisons). A job killed during
   this cleanup finds its run ``current`` when run again and finishes the cleanup.

Only one job writes at a time: the whole protocol runs under the ``predict`` job lock
(``graphdb.locks``), and every chunk and the switch check it inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from neo4j import Driver, ManagedTransaction

from graphdb.failpoints import reach
from graphdb.locks import JobLock
from graphdb.schema import RelType

PREDICTION_TYPES = {"item": RelType.PREDICTED_ITEM, "interest": RelType.PREDICTED_INTEREST}
_TARGET_LABELS = {"item": "Item", "interest": "Interest"}

BEGIN_RUN = """
MERGE (r:PredictionRun {id: $id})
ON CREATE SET r.status = 'writing', r.created = datetime($created), r.model = $model,
              r.checkpoint = $checkpoint, r.k = $k, r.targets = $targets, r.metrics = $metrics
RETURN r.status AS status
"""

SWITCH_RUN = """
MATCH (new:PredictionRun {id: $id})
OPTIONAL MATCH (old:PredictionRun {status: 'current'}) WHERE old.id <> $id
SET old.status = 'superseded', old.superseded = datetime($now)
SET new.status = 'current', new.completed = datetime($now)
RETURN collect(old.id) AS previous
"""

STALE_RUNS = """
MATCH (r:PredictionRun)
WHERE r.status <> 'current' AND NOT r.id IN $keep AND (r.status = 'writing' OR NOT $only_writing)
RETURN r.id AS id
"""

CURRENT_RUN = """
MATCH (r:PredictionRun {status: 'current'})
RETURN r.id AS id, r.model AS model, r.k AS k, r.targets AS targets, r.created AS created,
       r.checkpoint AS checkpoint
"""


def _write_statement(target: str) -> str:
    rel = PREDICTION_TYPES[target].value
    return (
        "UNWIND range(0, size($users) - 1) AS i "
        "MATCH (u:User {id: $users[i]}) "
        f"MATCH (t:{_TARGET_LABELS[target]} {{id: $targets[i]}}) "
        f"CREATE (u)-[:{rel} {{score: $scores[i], rank: $ranks[i], run: $run, "
        "explanations: $explanations[i]}]->(t)"
    )


def begin_run(
    driver: Driver,
    run_id: str,
    model: str,
    checkpoint: str,
    k: int,
    targets: Sequence[str],
    metrics: str,
    database: str | None = None,
) -> str:
    """Create the run (status ``writing``) or find it; returns its status."""
    record = driver.execute_query(
        BEGIN_RUN,
        id=run_id,
        created=datetime.now(UTC).isoformat(),
        model=model,
        checkpoint=checkpoint,
        k=k,
        targets=list(targets),
        metrics=metrics,
        database_=database,
    ).records[0]
    return str(record["status"])


def done_users(driver: Driver, run_id: str, target: str, database: str | None = None) -> set[str]:
    """Users that already hold this run's predictions of ``target`` (written chunks)."""
    rel = PREDICTION_TYPES[target].value
    records = driver.execute_query(
        f"MATCH (u:User)-[p:{rel} {{run: $run}}]->() RETURN DISTINCT u.id AS id",
        run=run_id,
        database_=database,
        routing_="r",
    ).records
    return {r["id"] for r in records}


def write_chunk(
    driver: Driver,
    run_id: str,
    rows: dict[str, dict[str, list[Any]]],
    lock: JobLock,
    database: str | None = None,
) -> int:
    """Write one chunk (target → column lists users/targets/scores/ranks/explanations) in ONE
    transaction, which first checks this job still holds the predict ``lock``."""

    def work(tx: ManagedTransaction) -> int:
        lock.assert_held(tx)
        written = 0
        for target, columns in rows.items():
            if columns["users"]:
                tx.run(_write_statement(target), run=run_id, **columns).consume()
                written += len(columns["users"])
        return written

    with driver.session(database=database) as session:
        return session.execute_write(work)


def switch_run(
    driver: Driver, run_id: str, lock: JobLock, database: str | None = None
) -> list[str]:
    """Make ``run_id`` the current run in one transaction (while holding the predict ``lock``);
    returns the superseded ids."""

    def work(tx: ManagedTransaction) -> list[str]:
        lock.assert_held(tx)
        now = datetime.now(UTC).isoformat()
        return list(tx.run(SWITCH_RUN, id=run_id, now=now).single(strict=True)["previous"])

    with driver.session(database=database) as session:
        return session.execute_write(work)


def latest_superseded(driver: Driver, database: str | None = None) -> list[str]:
    """The run the current one replaced (empty before the second run), for ``keep_previous``
    when a re-run finds its run already current."""
    records = driver.execute_query(
        "MATCH (r:PredictionRun {status: 'superseded'}) RETURN r.id AS id "
        "ORDER BY r.superseded DESC LIMIT 1",
        database_=database,
        routing_="r",
    ).records
    return [r["id"] for r in records]


def remove_stale_runs(
    driver: Driver,
    keep: Sequence[str],
    only_writing: bool = False,
    database: str | None = None,
    batch_size: int = 20_000,
) -> list[str]:
    """Delete every run except the current one and those in ``keep`` (only abandoned
    ``writing`` runs when ``only_writing``); returns the removed ids."""
    stale = [
        r["id"]
        for r in driver.execute_query(
            STALE_RUNS, keep=list(keep), only_writing=only_writing, database_=database
        ).records
    ]
    for run_id in stale:
        for rel in PREDICTION_TYPES.values():
            while True:
                summary = driver.execute_query(
                    f"MATCH ()-[p:{rel.value} {{run: $run}}]->() WITH p LIMIT $limit DELETE p",
                    run=run_id,
                    limit=batch_size,
                    database_=database,
                ).summary
                reach("predict.cleanup_batch")
                if summary.counters.relationships_deleted < batch_size:
                    break
        driver.execute_query(
            "MATCH (r:PredictionRun {id: $run}) DELETE r", run=run_id, database_=database
        )
    return stale


def current_run(driver: Driver, database: str | None = None) -> dict[str, Any] | None:
    """The run readers see, or ``None`` before the first completed job."""
    records = driver.execute_query(CURRENT_RUN, database_=database, routing_="r").records
    return records[0].data() if records else None
