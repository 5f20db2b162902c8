"""Kept answers (:mod:`serving.answers`): re-served only while the database has not changed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from neo4j import Driver

from graphdb.connection import Neo4jTarget
from serving.answers import AnswerCache
from serving.lookups import Lookups
from tests.serving.paths import LABELS, TYPES, path_exists

TOUCH = "MERGE (m:AnswerCacheProbe {id: 'probe'}) SET m.n = coalesce(m.n, 0) + 1"


@pytest.fixture()
def touch(session_driver: Driver) -> Iterator[Callable[[], None]]:
    """A write that changes nothing the lookups read (the probe node is removed after)."""
    yield lambda: session_driver.execute_query(TOUCH)
    session_driver.execute_query("MATCH (m:AnswerCacheProbe) DELETE m")


def test_the_least_recently_used_answer_goes_first_and_zero_keeps_none() -> None:
    cache = AnswerCache(capacity=2)
    state = frozenset({"FB:1"})
    cache.observe(state)
    cache.put("a", state, b"A")
    cache.put("b", state, b"B")
    assert cache.get("a") == (state, b"A")  # "a" is now the most recently used
    cache.put("c", state, b"C")
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    none = AnswerCache(capacity=0)
    none.observe(state)
    none.put("a", state, b"A")
    assert none.get("a") is None


def test_a_new_database_state_drops_every_answer_and_an_old_one_is_never_kept() -> None:
    cache = AnswerCache()
    old, new = frozenset({"FB:1"}), frozenset({"FB:2"})
    cache.observe(old)
    cache.put("a", old, b"A")
    cache.observe(old)
    assert cache.get("a") == (old, b"A")
    cache.observe(new)
    assert cache.get("a") is None
    cache.put("b", old, b"B")  # read at a state the database has since left
    assert cache.get("b") is None


def test_an_answer_is_kept_only_when_no_write_slipped_in_and_reread_after_one(
    session_driver: Driver, target: Neo4jTarget, users: list[str], touch: Callable[[], None]
) -> None:
    lookups = Lookups(session_driver, target.database, kept_answers=16)
    user, key = users[0], ("recommendations", users[0], "item", 5, True, 3)
    lookups.current_run()  # the state this process last saw ...
    touch()  # ... is stale once another client writes
    first = lookups.recommendations_json(user, "item", 5, True, 3)
    assert lookups._answers.get(key) is None, "read across a write, yet kept"
    second = lookups.recommendations_json(user, "item", 5, True, 3)
    kept = lookups._answers.get(key)
    assert second == first and kept is not None
    assert lookups.recommendations_json(user, "item", 5, True, 3) == first
    fresh = Lookups(session_driver, target.database).recommendations(user, "item", 5, True, 3)
    assert json.loads(first) == fresh.model_dump(mode="json")

    touch()
    assert lookups.recommendations_json(user, "item", 5, True, 3) == first
    again = lookups._answers.get(key)
    assert again is not None and again[0] != kept[0], "not re-read after the database changed"


def test_a_kept_explanation_whose_relationship_goes_is_not_served_again(
    session_driver: Driver, target: Neo4jTarget, users: list[str]
) -> None:
    lookups = Lookups(session_driver, target.database, kept_answers=16)
    user = users[1]
    for _ in range(2):  # the second read is kept
        kept = json.loads(lookups.recommendations_json(user, "item", 3, True, 3))
    path = next(p for r in kept["recommendations"] for p in r["explanations"])
    gone = path["relationships"][0]
    labels = {n["id"]: n["label"] for n in path["nodes"][:2]}
    assert {labels[gone["start"]], labels[gone["end"]]} <= LABELS and gone["type"] in TYPES
    pattern = (
        f"(a:{labels[gone['start']]} {{id: $a}})-[h:{gone['type']}]->"
        f"(b:{labels[gone['end']]} {{id: $b}})"
    )
    removed = session_driver.execute_query(
        f"MATCH {pattern} WITH h, properties(h) AS kept DELETE h RETURN kept",
        a=gone["start"],
        b=gone["end"],
    ).records
    assert removed
    try:
        again = json.loads(lookups.recommendations_json(user, "item", 3, True, 3))
        served = [p for r in again["recommendations"] for p in r["explanations"]]
        assert all(gone not in p["relationships"] for p in served)
        assert all(path_exists(session_driver, p) for p in served)
    finally:
        for record in removed:
            session_driver.execute_query(
                f"MATCH (a:{labels[gone['start']]} {{id: $a}}), (b:{labels[gone['end']]} "
                f"{{id: $b}}) CREATE (a)-[h:{gone['type']}]->(b) SET h = $kept",
                a=gone["start"],
                b=gone["end"],
                kept=record["kept"],
            )
