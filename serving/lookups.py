"""The lookups both front doors share (``interestgraph recommend`` / ``explain`` and the HTTP
API): the current run's predictions, a user's known and expanded interests, explanation paths,
similar items and likely adopters, each read in ONE read transaction, so predictions and the
paths that explain them come from the same state of the graph.

Errors are domain errors (:class:`NotFound`, :class:`Unavailable`); nothing here knows about
typer or FastAPI.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from neo4j import Driver, ManagedTransaction, unit_of_work
from neo4j.exceptions import (
    ClientError,
    DriverError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graphdb.explanations import decode_paths, existing_relationships, explanation_paths
from graphdb.predictions import CURRENT_RUN
from graphdb.schema import Label
from graphdb.vectors import similar_nodes_in
from serving.answers import AnswerCache, State
from serving.explanations import best_explanations, without_first_hop
from serving.schemas import (
    Adopter,
    Adopters,
    CurrentRun,
    ExpandedInterest,
    Explanation,
    KnownInterest,
    PairExplanation,
    Prediction,
    Recommendation,
    Recommendations,
    RunInfo,
    SimilarItem,
    SimilarItems,
    UserInterests,
)

T = TypeVar("T")

_TARGET_LABEL = {"item": "Item", "interest": "Interest"}
_PREDICTED = {"item": "PREDICTED_ITEM", "interest": "PREDICTED_INTEREST"}
_NAME = {"item": "n.title", "interest": "n.name"}


class LookupFailed(Exception):
    """Root of the lookups' domain errors."""


class NotFound(LookupFailed):
    """The user, item or interest is not in the graph."""

    def __init__(self, label: str, node_id: str):
        self.label = label
        super().__init__(f"no {label.lower()} with id {node_id!r}")


class Unavailable(LookupFailed):
    """Neo4j does not answer in time, or there is no current prediction run yet."""


def _node(label: str, name: str) -> str:
    return f"OPTIONAL MATCH (n:{label} {{id: $id}}) RETURN n IS NOT NULL AS found, {name} AS name"


def _predictions_query(target: str) -> str:
    """The user, the current run and the user's top ``$k`` of it in one round trip (the hot
    path: every statement costs a Bolt round trip and driver work)."""
    return f"""
OPTIONAL MATCH (u:User {{id: $user}})
OPTIONAL MATCH (r:PredictionRun {{status: 'current'}})
CALL (u, r) {{
  OPTIONAL MATCH (u)-[p:{_PREDICTED[target]}]->(n:{_TARGET_LABEL[target]}) WHERE p.run = r.id
  WITH p, n ORDER BY p.rank LIMIT $k
  RETURN collect({{id: n.id, name: {_NAME[target]}, score: p.score, rank: p.rank,
                   stored: p.explanations}}) AS rows
}}
RETURN u IS NOT NULL AS found, u.name AS user_name,
       r {{.id, .model, .created, .checkpoint}} AS run,
       [row IN rows WHERE row.id IS NOT NULL] AS rows
"""


#: target → the hot path's one statement, built once
PREDICTIONS = {target: _predictions_query(target) for target in _PREDICTED}


def _pair_query(target: str) -> str:
    return (
        f"MATCH (:User {{id: $user}})-[p:{_PREDICTED[target]}]->(:{_TARGET_LABEL[target]} "
        "{id: $id}) WHERE p.run = $run RETURN p.score AS score, p.rank AS rank"
    )


KNOWN_INTERESTS = """
MATCH (:User {id: $user})-[r:INTERESTED_IN]->(t:Interest)
RETURN t.id AS id, t.name AS name, t.kind AS kind, r.source AS source, r.weight AS weight
ORDER BY r.weight DESC, t.id LIMIT $k
"""

EXPANDED_INTERESTS = """
MATCH (:User {id: $user})-[p:PREDICTED_INTEREST]->(t:Interest) WHERE p.run = $run
RETURN t.id AS id, t.name AS name, t.kind AS kind, p.score AS score, p.rank AS rank
ORDER BY p.rank LIMIT $k
"""

PROVISIONAL_USER = """
CREATE (u:User {id: $id})
WITH u
CALL (u) {
  UNWIND $items AS item_id
  MATCH (i:Item {id: item_id})
  CREATE (u)-[:INTERACTED {weight: 1.0}]->(i)
}
CALL (u) {
  UNWIND $interests AS interest_id
  MATCH (t:Interest {id: interest_id})
  CREATE (u)-[:INTERESTED_IN {weight: 1.0, source: 'stated'}]->(t)
}
"""

ADOPTERS = """
MATCH (u:User)-[p:PREDICTED_INTEREST]->(:Interest {id: $id}) WHERE p.run = $run
RETURN u.id AS id, u.name AS name, p.score AS score, p.rank AS rank
ORDER BY p.score DESC, p.rank, u.id LIMIT $k
"""


RUN_DETAILS = """
MATCH (r:PredictionRun {status: 'current'})
RETURN r.id AS id, r.model AS model, r.created AS created, r.checkpoint AS checkpoint,
       r.k AS k, r.targets AS targets, r.metrics AS metrics,
       COLLECT {
         MATCH (u:User)
         WHERE EXISTS { (u)-[p:PREDICTED_ITEM|PREDICTED_INTEREST]->() WHERE p.run = r.id }
         RETURN u.id LIMIT $samples
       } AS sample_users
"""
NO_RUN = "no current prediction run: run `interestgraph predict` first"


def _summary(recorded: str | None) -> dict[str, Any] | None:
    """The run's recorded summary, or ``None`` when it holds none readable (older runs)."""
    try:
        summary = json.loads(recorded) if recorded else None
    except ValueError:
        return None
    return summary if isinstance(summary, dict) else None


def _run_info(run: dict[str, Any]) -> RunInfo:
    created = run.get("created")
    return RunInfo(
        id=run["id"],
        model=run.get("model"),
        created=created.iso_format() if created is not None else None,
        checkpoint=run.get("checkpoint"),
    )


def _still_there(
    tx: ManagedTransaction, paths: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Of each candidate's paths, those whose every relationship exists now."""
    wanted = {tuple(rel) for found in paths.values() for p in found for rel in p["rels"]}
    alive = existing_relationships(tx, wanted)  # type: ignore[arg-type]
    return {
        c: [p for p in found if all(tuple(rel) in alive for rel in p["rels"])]
        for c, found in paths.items()
    }


def _nothing(tx: ManagedTransaction) -> None:
    """An empty transaction: its bookmark says which state the database is at."""


class Lookups:
    """Lookups over one driver (owned by the caller: one per worker process). They never
    change the graph: the one write transaction, a new user's provisional node for its
    explanations, is always rolled back.

    Args:
        driver: an open driver.
        database: the database to read (``None``: the server's default).
        timeout: seconds a lookup's transaction may take before Neo4j aborts it.
        kept_answers: how many encoded recommendation answers to keep while the graph does not
            change (:mod:`serving.answers`); 0 keeps none.
    """

    def __init__(
        self,
        driver: Driver,
        database: str | None = None,
        timeout: float = 5.0,
        kept_answers: int = 0,
    ):
        self.driver = driver
        self.database = database
        self.timeout = timeout
        self._answers = AnswerCache(kept_answers)

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _neo4j_down_is_unavailable(self) -> Iterator[None]:
        """Neo4j not answering (or not in time) → :class:`Unavailable`, for every lookup."""
        try:
            yield
        except (ServiceUnavailable, SessionExpired, TransientError) as e:
            raise Unavailable(f"Neo4j is unavailable: {e}") from e
        except ClientError as e:
            if "Timeout" in (e.code or "") or "TimedOut" in (e.code or ""):
                raise Unavailable(f"the lookup took longer than {self.timeout} s") from e
            raise
        except DriverError as e:
            raise Unavailable(f"Neo4j driver: {e}") from e

    def _read_at(self, work: Callable[[ManagedTransaction], T]) -> tuple[T, State]:
        """``work``'s result and the database state its transaction ended at."""
        with (
            self._neo4j_down_is_unavailable(),
            self.driver.session(database=self.database, default_access_mode="READ") as s,
        ):
            value = s.execute_read(unit_of_work(timeout=self.timeout)(work))
            state = frozenset(s.last_bookmarks().raw_values)
        self._answers.observe(state)
        return value, state

    def _read(self, work: Callable[[ManagedTransaction], T]) -> T:
        return self._read_at(work)[0]

    def _kept_or_read(
        self, key: Hashable, work: Callable[[ManagedTransaction], Recommendations]
    ) -> bytes:
        """``work``'s answer as JSON: the kept one while the database is at the state it was
        read at (one empty transaction tells), else read now, and kept when no write could
        have slipped in while it was read (see :mod:`serving.answers`)."""
        kept = self._answers.get(key)
        if kept is not None:
            _, now = self._read_at(_nothing)
            if now == kept[0]:
                return kept[1]
        before = self._answers.latest
        value, after = self._read_at(work)
        answer = value.model_dump_json().encode()
        if before == after:
            self._answers.put(key, after, answer)
        return answer

    @staticmethod
    def _current_run(tx: ManagedTransaction) -> RunInfo | None:
        record = tx.run(CURRENT_RUN).single()
        return _run_info(record.data()) if record is not None else None

    @staticmethod
    def _name_of(tx: ManagedTransaction, label: str, node_id: str) -> str | None:
        """The node's display name; :class:`NotFound` when the node does not exist."""
        name = {"User": "n.name", "Item": "n.title", "Interest": "n.name"}[label]
        record = tx.run(_node(label, name), id=node_id).single()
        if record is None or not record["found"]:
            raise NotFound(label, node_id)
        return record["name"]

    # -- lookups -----------------------------------------------------------------------------
    def current_run(self) -> RunInfo | None:
        return self._read(self._current_run)

    def run_details(self, samples: int = 5) -> CurrentRun:
        """The current run with its recorded summary and a few of its users;
        :class:`Unavailable` when there is none."""

        def work(tx: ManagedTransaction) -> CurrentRun:
            record = tx.run(RUN_DETAILS, samples=samples).single()
            if record is None:
                raise Unavailable(NO_RUN)
            run = record.data()
            return CurrentRun(
                **_run_info(run).model_dump(),
                k=run["k"],
                targets=list(run["targets"] or []),
                summary=_summary(run["metrics"]),
                sample_users=run["sample_users"],
            )

        return self._read(work)

    def ping(self) -> None:
        """Raise :class:`Unavailable` unless Neo4j answers a query."""
        self._read(lambda tx: tx.run("RETURN 1").consume())

    def recommendations(
        self, user: str, target: str, k: int, explain: bool, paths: int = 3
    ) -> Recommendations:
        """The current run's top ``k`` for ``user``, optionally with explanations."""
        return self._read(self._recommendations(user, target, k, explain, paths))

    def recommendations_json(
        self, user: str, target: str, k: int, explain: bool, paths: int = 3
    ) -> bytes:
        """:meth:`recommendations` encoded as JSON, kept while the graph does not change
        (what the API serves: asked again, an explained answer costs one empty round trip)."""
        return self._kept_or_read(
            ("recommendations", user, target, k, explain, paths),
            self._recommendations(user, target, k, explain, paths),
        )

    def _recommendations(
        self, user: str, target: str, k: int, explain: bool, paths: int
    ) -> Callable[[ManagedTransaction], Recommendations]:
        def work(tx: ManagedTransaction) -> Recommendations:
            record = tx.run(PREDICTIONS[target], user=user, k=k).single()
            if record is None or not record["found"]:
                raise NotFound("User", user)
            if record["run"] is None:
                raise Unavailable(NO_RUN)
            user_name, run, rows = record["user_name"], _run_info(record["run"]), record["rows"]
            found = self._verified_paths(tx, user, target, rows, paths) if explain else {}
            return Recommendations(
                user=user,
                target=target,  # type: ignore[arg-type]
                run=run,
                recommendations=[
                    Recommendation(
                        id=r["id"],
                        name=r["name"],
                        score=r["score"],
                        rank=r["rank"],
                        explanations=(
                            best_explanations(target, found[r["id"]], user_name, r["name"], paths)
                            if explain
                            else None
                        ),
                    )
                    for r in rows
                ],
            )

        return work

    @staticmethod
    def _verified_paths(
        tx: ManagedTransaction, user: str, target: str, rows: list[dict[str, Any]], paths: int
    ) -> dict[str, list[dict[str, Any]]]:
        """Each prediction's best stored paths whose every relationship still exists (checked
        in ``tx``): the first ``paths`` of each are checked, the rest only where one of those
        failed; a prediction left with none (stored without paths, or the graph changed) gets
        a fresh path search."""
        stored = {r["id"]: decode_paths(r["stored"]) for r in rows}
        valid = _still_there(tx, {c: found[:paths] for c, found in stored.items()})
        short = {
            c: found[paths:]
            for c, found in stored.items()
            if len(valid[c]) < paths and found[paths:]
        }
        for c, more in _still_there(tx, short).items():
            valid[c] += more
        missing = [c for c, found in valid.items() if not found]
        if missing:
            valid.update(explanation_paths(tx, user, target, missing, per_kind=paths))
        return valid

    def interests(self, user: str, k: int) -> UserInterests:
        """What the user showed (with its source) and what the current run expands it with."""

        def work(tx: ManagedTransaction) -> UserInterests:
            self._name_of(tx, "User", user)
            run = self._current_run(tx)
            known = tx.run(KNOWN_INTERESTS, user=user, k=k).data()
            expanded = tx.run(EXPANDED_INTERESTS, user=user, run=run.id, k=k).data() if run else []
            return UserInterests(
                user=user,
                run=run,
                known=[KnownInterest(**r) for r in known],
                expanded=[ExpandedInterest(**r) for r in expanded],
            )

        return self._read(work)

    def explain(self, user: str, target: str, candidate: str, paths: int = 3) -> PairExplanation:
        """Explanation paths for any (user, item or interest) pair, predicted or not."""

        def work(tx: ManagedTransaction) -> PairExplanation:
            user_name = self._name_of(tx, "User", user)
            name = self._name_of(tx, _TARGET_LABEL[target], candidate)
            run = self._current_run(tx)
            predicted = None
            if run is not None:
                record = tx.run(_pair_query(target), user=user, id=candidate, run=run.id).single()
                predicted = Prediction(**record.data()) if record else None
            raws = explanation_paths(tx, user, target, [candidate])[candidate]
            return PairExplanation(
                user=user,
                target=target,  # type: ignore[arg-type]
                id=candidate,
                name=name,
                run=run,
                predicted=predicted,
                explanations=best_explanations(target, raws, user_name, name, paths),
            )

        return self._read(work)

    def explain_new_user(
        self,
        items: list[str],
        interests: list[str],
        target: str,
        candidates: list[str],
        paths: int = 3,
    ) -> dict[str, list[Explanation]]:
        """Explanations for a user the graph does not know, from what they picked.

        The same path queries run against a provisional user node holding the picked items
        and interests, created inside a transaction that is always rolled back: nothing is
        committed, no other reader ever sees it, and every path returned (less its first hop,
        the provisional user's own edge) exists in the graph.
        """
        provisional = f"~new-user-{uuid.uuid4().hex}"
        with (
            self._neo4j_down_is_unavailable(),
            self.driver.session(database=self.database) as session,
            session.begin_transaction(timeout=self.timeout) as tx,
        ):
            tx.run(PROVISIONAL_USER, id=provisional, items=items, interests=interests)
            raws = explanation_paths(tx, provisional, target, candidates)
            labels = tx.run(
                f"UNWIND $ids AS id MATCH (n:{_TARGET_LABEL[target]} {{id: id}}) "
                f"RETURN n.id AS id, {_NAME[target]} AS name",
                ids=candidates,
            ).data()
            tx.rollback()
        name_of = {row["id"]: row["name"] for row in labels}
        return {
            c: [
                without_first_hop(e)
                for e in best_explanations(target, raws[c], None, name_of.get(c), paths)
            ]
            for c in candidates
        }

    def similar_items(self, item: str, k: int) -> SimilarItems:
        """Nearest items by text embedding (Neo4j's vector index)."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            self._name_of(tx, "Item", item)
            return similar_nodes_in(tx, Label.ITEM, item, k)

        rows = self._read(work)
        return SimilarItems(
            item=item,
            similar=[SimilarItem(id=r["id"], name=r["name"], score=r["score"]) for r in rows],
        )

    def adopters(self, interest: str, k: int) -> Adopters:
        """The users the current run most expects to take up ``interest``."""

        def work(tx: ManagedTransaction) -> Adopters:
            self._name_of(tx, "Interest", interest)
            run = self._require_run(tx)
            rows = tx.run(ADOPTERS, id=interest, run=run.id, k=k).data()
            return Adopters(interest=interest, run=run, adopters=[Adopter(**r) for r in rows])

        return self._read(work)

    def _require_run(self, tx: ManagedTransaction) -> RunInfo:
        run = self._current_run(tx)
        if run is None:
            raise Unavailable(NO_RUN)
        return run
