"""What ``demo`` prints: real users of the current run, each with interests and reasons."""

from __future__ import annotations

from neo4j import Driver

from serving.lookups import Lookups
from serving.showcase import showcase


def test_showcase_picks_users_with_known_and_expanded_interests(
    session_driver: Driver, served_graph: dict
) -> None:
    shown = showcase(Lookups(session_driver), users=2, k=3)
    current = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) RETURN r.id AS id"
    ).records[0]["id"]
    assert shown["run"] == current
    assert len(shown["users"]) == 2
    for entry in shown["users"]:
        assert entry["known"] and 1 <= len(entry["expanded"]) <= 3
        assert len(entry["items"]) == 3
        assert any(item["why"] for item in entry["items"])
        scores = [item["score"] for item in entry["items"]]
        assert scores == sorted(scores, reverse=True)
