"""Ranking raw explanation paths: most specific first, and no two that show a reader the
same nodes."""

from __future__ import annotations

from graphdb.explanations import best_paths


def _path(kind: str, nodes: list[str], score: float, key: str) -> dict:
    return {"kind": kind, "nodes": nodes, "score": score, "key": key, "user_weight": 1.0}


def test_parallel_relationships_give_one_path_and_ranking_is_by_score() -> None:
    raws = [
        # the same user → tag → item path twice: a catalogue edge and a user-tag edge
        _path("held_interest", ["u1", "heist", "i9"], 0.5, "heist"),
        _path("held_interest", ["u1", "heist", "i9"], 0.4, "heist"),
        _path("shared_interest", ["u1", "i2", "heist", "i9"], 0.6, "i2|heist"),
        _path("held_interest", ["u1", "drama", "i9"], 0.1, "drama"),
    ]
    best = best_paths(raws, limit=3)
    assert [(p["kind"], p["score"]) for p in best] == [
        ("shared_interest", 0.6),
        ("held_interest", 0.5),
        ("held_interest", 0.1),
    ]
    assert best_paths(raws, limit=1) == [raws[2]]
