"""``interestgraph recommend``, ``explain`` and ``serve --create-key`` over the same lookups
as the API: their ``--json`` output is the API's answer, their errors one clear message."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from neo4j import Driver

from tests.cli_json import run_json
from tests.serving.paths import path_exists


def test_recommend_prints_what_the_api_answers(
    client: TestClient, session_driver: Driver, users: list[str]
) -> None:
    code, payload = run_json(["recommend", users[1], "--k", "3", "--explain"])
    assert code == 0, payload
    api = client.get(
        f"/v1/users/{users[1]}/recommendations", params={"k": 3, "explain": "true"}
    ).json()
    assert payload == api
    paths = [p for r in payload["recommendations"] for p in r["explanations"]]
    assert paths and all(path_exists(session_driver, p) for p in paths)
    code, interests = run_json(["recommend", users[1], "--target", "interest", "--k", "2"])
    assert code == 0 and interests["target"] == "interest"
    assert len(interests["recommendations"]) == 2


def test_explain_finds_the_item_or_the_interest_and_names_what_is_missing(
    users: list[str], session_driver: Driver
) -> None:
    item = session_driver.execute_query(
        "MATCH (:User {id: $u})-[p:PREDICTED_ITEM]->(i) RETURN i.id AS id LIMIT 1", u=users[0]
    ).records[0]["id"]
    code, payload = run_json(["explain", users[0], item])
    assert code == 0 and payload["target"] == "item" and payload["predicted"] is not None
    genre = session_driver.execute_query(
        "MATCH (t:Interest {kind: 'genre'}) WHERE NOT EXISTS { MATCH (i:Item {id: t.id}) } "
        "RETURN t.id AS id LIMIT 1"
    ).records[0]["id"]
    code, payload = run_json(["explain", users[0], genre])
    assert code == 0 and payload["target"] == "interest"
    code, payload = run_json(["explain", "nobody", item])
    assert code == 1 and payload == {"error": "no user with id 'nobody'"}
    code, payload = run_json(["explain", users[0], "nothing-called-this"])
    assert code == 1 and payload == {"error": "no interest with id 'nothing-called-this'"}


def test_create_key_prints_it_once_and_stores_only_its_hash(served_graph: dict) -> None:
    code, payload = run_json(["serve", "--create-key"])
    assert code == 0 and payload["key"].startswith("igk_")
    stored = (served_graph["home"] / "api_keys.json").read_text()
    assert payload["key"] not in stored
    assert payload["id"] in {k["id"] for k in json.loads(stored)["keys"]}
