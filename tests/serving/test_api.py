"""The HTTP API against the real Neo4j, as a client would use it: keys, every endpoint,
explanation paths re-queried in Cypher, a new user, bad and hostile input, health, metrics and
the committed OpenAPI contract."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from interestgraph.privacy_job import forget_user
from serving.api import ServingConfig, create_app
from serving.keys import create_key
from serving.schemas import MAX_K
from tests.serving.paths import path_exists

REPO = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
INJECTIONS = [
    "' OR 1=1 //",
    "x'}) MATCH (n) DETACH DELETE n //",
    '1"}) RETURN 1 UNION MATCH (n) RETURN n //',
    "`) DETACH DELETE n //",
    "$user",
    "\\u0027; CALL dbms.shutdown() //",
]


def graph_size(driver: Driver) -> tuple[int, int]:
    record = driver.execute_query(
        "MATCH (n) WITH count(n) AS nodes MATCH ()-[r]->() RETURN nodes, count(r) AS rels"
    ).records[0]
    return record["nodes"], record["rels"]


def test_every_lookup_needs_a_key_but_health(client: TestClient) -> None:
    anonymous = {"X-API-Key": ""}
    for path in (
        "/v1/users/1/recommendations",
        "/v1/users/1/interests",
        "/v1/runs/current",
        "/metrics",
    ):
        response = client.get(path, headers=anonymous)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 401
        assert client.get(path, headers={"X-API-Key": "igk_wrong"}).status_code == 401
    assert client.get("/livez", headers=anonymous).json() == {"status": "ok"}
    ready = client.get("/readyz", headers=anonymous)
    assert ready.status_code == 200 and ready.json()["run"].startswith("run-")


def test_the_current_run_says_what_model_and_how_good(
    client: TestClient, session_driver: Driver, served_graph: dict
) -> None:
    run = client.get("/v1/runs/current").json()
    stored = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) RETURN r.id AS id, r.k AS k"
    ).records[0]
    assert (run["id"], run["k"]) == (stored["id"], stored["k"])
    assert run["summary"]["split"] == "user-random" and run["summary"]["refit"] is False
    trained = json.loads((served_graph["home"] / "serve-ckpt" / "metrics.json").read_text())
    for target, headline in run["summary"]["targets"].items():
        assert headline["variant"] == "full"
        assert headline["test"]["recall@20"] == trained["metrics"][target]["recall@20"]
    assert 1 <= len(run["sample_users"]) <= 5
    for user in run["sample_users"]:
        assert client.get(f"/v1/users/{user}/recommendations").json()["recommendations"]


def test_the_explorer_page_is_public_and_api_errors_stay_problems(client: TestClient) -> None:
    anonymous = {"X-API-Key": ""}
    page = client.get("/", headers=anonymous)
    assert page.status_code == 200 and "interest explorer" in page.text
    for attribute in ('src="', 'href="'):  # every asset from this service, none from a CDN
        assert f"{attribute}http" not in page.text and f"{attribute}//" not in page.text
    assert client.get("/vendor/cytoscape.min.js", headers=anonymous).status_code == 200
    missing = client.get("/v1/no-such-endpoint")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("kind", ["item", "interest"])
def test_recommendations_are_the_current_run_with_true_explanations(
    client: TestClient, session_driver: Driver, served_graph: dict, users: list[str], kind: str
) -> None:
    explained = with_path = 0
    for user in users[:12]:
        plain = client.get(f"/v1/users/{user}/recommendations", params={"target": kind, "k": 5})
        assert plain.status_code == 200, plain.text
        body = plain.json()
        assert body["run"]["id"] == served_graph["predict"]["run"]
        assert [r["rank"] for r in body["recommendations"]] == list(range(1, 6))
        assert all(r["explanations"] is None for r in body["recommendations"])
        stored = session_driver.execute_query(
            "MATCH (:User {id: $u})-[p]->(n) WHERE p.run = $run AND type(p) = $type "
            "RETURN n.id AS id ORDER BY p.rank LIMIT 5",
            u=user,
            run=body["run"]["id"],
            type="PREDICTED_ITEM" if kind == "item" else "PREDICTED_INTEREST",
        ).records
        assert [r["id"] for r in body["recommendations"]] == [r["id"] for r in stored]
        full = client.get(
            f"/v1/users/{user}/recommendations",
            params={"target": kind, "k": 5, "explain": "true", "paths": 3},
        ).json()
        assert [r["id"] for r in full["recommendations"]] == [r["id"] for r in stored]
        for rec in full["recommendations"]:
            explained += 1
            paths = rec["explanations"]
            assert len(paths) <= 3
            assert [p["score"] for p in paths] == sorted((p["score"] for p in paths), reverse=True)
            with_path += bool(paths)
            for path in paths:
                assert path["nodes"][0] == {"id": user, "label": "User", "name": None}
                assert path["nodes"][-1]["id"] == rec["id"]
                assert len(path["relationships"]) <= 3 and path["sentence"]
                assert path_exists(session_driver, path), path
    fidelity = with_path / explained
    assert fidelity >= 0.95, f"fidelity {fidelity:.3f}"


def test_interest_expansion_lists_known_and_predicted(
    client: TestClient, session_driver: Driver, users: list[str]
) -> None:
    user = session_driver.execute_query(
        "MATCH (u:User)-[:INTERESTED_IN]->() RETURN u.id AS id ORDER BY id LIMIT 1"
    ).records[0]["id"]
    body = client.get(f"/v1/users/{user}/interests", params={"k": 50}).json()
    known = session_driver.execute_query(
        "MATCH (:User {id: $u})-[r:INTERESTED_IN]->(t) RETURN t.id AS id, r.source AS source",
        u=user,
    ).records
    assert {(k["id"], k["source"]) for k in body["known"]} == {
        (r["id"], r["source"]) for r in known
    }
    assert body["expanded"] and all(e["score"] is not None for e in body["expanded"])
    assert not {e["id"] for e in body["expanded"]} & {k["id"] for k in body["known"]}


def test_explain_any_pair_predicted_or_not(
    client: TestClient, session_driver: Driver, users: list[str]
) -> None:
    user = users[0]
    unpredicted = session_driver.execute_query(
        "MATCH (u:User {id: $u}), (i:Item) WHERE NOT (u)-[:PREDICTED_ITEM]->(i) "
        "AND EXISTS { (u)-[:INTERACTED]->(:Item)-[:HAS_INTEREST]->(:Interest)"
        "<-[:HAS_INTEREST]-(i) } RETURN i.id AS id ORDER BY id LIMIT 1",
        u=user,
    ).records[0]["id"]
    body = client.get("/v1/explain", params={"user": user, "item": unpredicted}).json()
    assert body["predicted"] is None and body["explanations"]
    assert all(path_exists(session_driver, p) for p in body["explanations"])
    top = client.get(f"/v1/users/{user}/recommendations", params={"k": 1}).json()
    predicted = top["recommendations"][0]
    body = client.get("/v1/explain", params={"user": user, "item": predicted["id"]}).json()
    assert body["predicted"] == {"score": predicted["score"], "rank": 1}
    interest = client.get(
        f"/v1/users/{user}/recommendations", params={"k": 1, "target": "interest"}
    ).json()["recommendations"][0]["id"]
    body = client.get("/v1/explain", params={"user": user, "interest": interest}).json()
    assert body["target"] == "interest"
    assert all(path_exists(session_driver, p) for p in body["explanations"])
    for params in ({"user": user}, {"user": user, "item": unpredicted, "interest": interest}):
        response = client.get("/v1/explain", params=params)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_a_new_user_is_scored_on_the_fly_and_nothing_is_written(
    client: TestClient, session_driver: Driver
) -> None:
    picked = [
        r["id"]
        for r in session_driver.execute_query(
            "MATCH (i:Item)<-[:INTERACTED]-() RETURN i.id AS id, count(*) AS n "
            "ORDER BY n DESC, id LIMIT 3"
        ).records
    ]
    interest = session_driver.execute_query(
        "MATCH (t:Interest {kind: 'genre'}) RETURN t.id AS id ORDER BY id LIMIT 1"
    ).records[0]["id"]
    before = graph_size(session_driver)
    response = client.post(
        "/v1/recommendations",
        json={
            "items": picked,
            "interests": [interest],
            "text": "I love slow science fiction with big ideas.",
            "k": 8,
            "explain": True,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ids = [r["id"] for r in body["recommendations"]]
    assert len(ids) == 8 and not set(ids) & set(picked)
    assert [r["score"] for r in body["recommendations"]] == sorted(
        (r["score"] for r in body["recommendations"]), reverse=True
    )
    paths = [p for r in body["recommendations"] for p in r["explanations"]]
    assert paths and all(p["nodes"][0]["id"] in {*picked, interest} for p in paths)
    assert all(path_exists(session_driver, p) for p in paths)
    assert graph_size(session_driver) == before
    interests = client.post(
        "/v1/recommendations", json={"text": "documentaries about nature", "target": "interest"}
    )
    assert interests.status_code == 200 and interests.json()["recommendations"]
    for bad in ({"items": ["no-such-item"]}, {}, {"k": MAX_K + 1, "items": picked}):
        response = client.post("/v1/recommendations", json=bad)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_similar_items_and_adopters(client: TestClient, session_driver: Driver) -> None:
    item = session_driver.execute_query(
        "MATCH (i:Item) RETURN i.id AS id ORDER BY id LIMIT 1"
    ).records[0]["id"]
    similar = client.get(f"/v1/items/{item}/similar", params={"k": 4}).json()["similar"]
    assert len(similar) == 4 and item not in {s["id"] for s in similar}
    interest = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) MATCH ()-[p:PREDICTED_INTEREST]->(t) "
        "WHERE p.run = r.id RETURN t.id AS id, count(*) AS n ORDER BY n DESC, id LIMIT 1"
    ).records[0]["id"]
    adopters = client.get(f"/v1/interests/{interest}/adopters", params={"k": 3}).json()
    scores = [a["score"] for a in adopters["adopters"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_bad_and_hostile_input_is_a_clean_4xx_and_changes_nothing(
    client: TestClient, session_driver: Driver
) -> None:
    before = graph_size(session_driver)
    checks = [
        ("/v1/users/nobody/recommendations", {}, 404),
        ("/v1/users/1/recommendations", {"k": MAX_K + 1}, 422),
        ("/v1/users/1/recommendations", {"k": 0}, 422),
        ("/v1/users/1/recommendations", {"target": "friend"}, 422),
        ("/v1/users/" + "x" * 500 + "/recommendations", {}, 422),
        ("/v1/items/nothing/similar", {}, 404),
        ("/v1/interests/nothing/adopters", {}, 404),
        ("/v1/explain", {"user": "1", "item": "nothing"}, 404),
        ("/v1/no-such-route", {}, 404),
    ]
    for injected in INJECTIONS:
        checks += [
            (f"/v1/users/{injected}/recommendations", {}, 404),
            (f"/v1/users/{injected}/interests", {}, 404),
            (f"/v1/items/{injected}/similar", {}, 404),
            (f"/v1/interests/{injected}/adopters", {}, 404),
            ("/v1/explain", {"user": injected, "item": injected}, 404),
            ("/v1/explain", {"user": "1", "interest": injected}, 404),
            ("/v1/users/1/recommendations", {"target": injected}, 422),
        ]
    for path, params, status in checks:
        response = client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == status and "Traceback" not in response.text
    huge = client.post(
        "/v1/recommendations",
        content=json.dumps({"text": "x" * 100_000}),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.headers["content-type"] == PROBLEM
    response = client.post("/v1/recommendations", json={"items": INJECTIONS})
    assert response.status_code == 422
    assert graph_size(session_driver) == before


def test_metrics_count_routes_by_template(client: TestClient, users: list[str]) -> None:
    client.get(f"/v1/users/{users[0]}/recommendations")
    text = client.get("/metrics").text
    assert 'route="/v1/users/{user_id}/recommendations"' in text
    assert "interestgraph_http_request_duration_seconds_bucket" in text
    assert f'"/v1/users/{users[0]}/recommendations"' not in text


def test_the_committed_openapi_schema_is_the_contract(client: TestClient) -> None:
    committed = json.loads((REPO / "serving" / "openapi.json").read_text())
    assert client.get("/openapi.json").json() == committed, (
        "the API changed: regenerate with `interestgraph serve --openapi > serving/openapi.json`"
    )


def test_stored_paths_are_rechecked_before_they_are_served(
    client: TestClient, session_driver: Driver, users: list[str]
) -> None:
    """A path stored by `predict` whose relationship has since gone is not served."""
    user = users[2]
    first = client.get(
        f"/v1/users/{user}/recommendations", params={"k": 1, "explain": "true", "paths": 5}
    ).json()["recommendations"][0]
    stored = session_driver.execute_query(
        "MATCH (:User {id: $u})-[p:PREDICTED_ITEM {rank: 1}]->() "
        "MATCH (r:PredictionRun {status: 'current'}) WHERE p.run = r.id "
        "RETURN p.explanations AS paths",
        u=user,
    ).records[0]["paths"]
    assert stored and [p["sentence"] for p in first["explanations"]]
    path = first["explanations"][0]
    gone = path["relationships"][-1]
    ends = {n["id"]: n["label"] for n in path["nodes"][-2:]}
    start_label, end_label = ends[gone["start"]], ends[gone["end"]]
    assert {start_label, end_label} <= {"User", "Item", "Interest"}
    assert gone["type"] in {"INTERACTED", "HAS_INTEREST", "INTERESTED_IN", "RELATED_TO"}
    pattern = f"(a:{start_label} {{id: $a}})-[h:{gone['type']}]->(b:{end_label} {{id: $b}})"
    removed = session_driver.execute_query(
        f"MATCH {pattern} WITH h, properties(h) AS kept DELETE h RETURN kept",
        a=gone["start"],
        b=gone["end"],
    ).records[0]["kept"]
    try:
        again = client.get(
            f"/v1/users/{user}/recommendations", params={"k": 1, "explain": "true", "paths": 5}
        ).json()["recommendations"][0]
        assert all(gone not in p["relationships"] for p in again["explanations"])
        assert all(path_exists(session_driver, p) for p in again["explanations"])
    finally:
        session_driver.execute_query(
            f"MATCH (a:{start_label} {{id: $a}}), (b:{end_label} {{id: $b}}) "
            f"CREATE (a)-[h:{gone['type']}]->(b) SET h = $kept",
            a=gone["start"],
            b=gone["end"],
            kept=removed,
        )


def test_path_scores_are_the_documented_product(client: TestClient, users: list[str]) -> None:
    """Neo4j ranks paths by the same formula the components document."""
    body = client.get(
        f"/v1/users/{users[3]}/recommendations", params={"k": 5, "explain": "true", "paths": 5}
    ).json()
    paths = [p for r in body["recommendations"] for p in r["explanations"]]
    assert paths
    for path in paths:
        parts = path["components"]
        product = math.prod(parts["specificity"]) * math.prod(parts["relation_weights"])
        assert path["score"] == pytest.approx(product, rel=1e-4)


def test_an_admin_key_erases_a_user_and_others_may_not(
    served_graph: dict, target, session_driver: Driver, api_key: str
) -> None:
    home = served_graph["home"]
    user = "api-erasure-target-42"
    session_driver.execute_query(
        "MATCH (i:Item) WITH i ORDER BY i.id LIMIT 1 "
        "CREATE (:User {id: $id})-[:INTERACTED {weight: 1.0}]->(i)",
        id=user,
    )
    admin = create_key(home / "api_keys.json", admin=True)["key"]

    def erase(driver, database, user_id, purge):
        return forget_user(driver, database, home, user_id, purge)

    config = ServingConfig(neo4j=target, key_file=home / "api_keys.json", timeout=5.0)
    with TestClient(create_app(replace(config, erase=erase))) as erasing:
        assert erasing.delete(f"/v1/users/{user}").status_code == 401
        refused = erasing.delete(f"/v1/users/{user}", headers={"X-API-Key": api_key})
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        done = erasing.delete(f"/v1/users/{user}", headers={"X-API-Key": admin})
        assert done.status_code == 200, done.text
        assert done.json()["in_graph"] and done.json()["relationships_deleted"] == 1
        again = erasing.delete(f"/v1/users/{user}", headers={"X-API-Key": admin}).json()
        assert not again["in_graph"] and again["relationships_deleted"] == 0
    gone = session_driver.execute_query("MATCH (u:User {id: $id}) RETURN count(u) AS n", id=user)
    assert gone.records[0]["n"] == 0
    with TestClient(create_app(config)) as unconfigured:
        answer = unconfigured.delete(f"/v1/users/{user}", headers={"X-API-Key": admin})
        assert answer.status_code == 503
