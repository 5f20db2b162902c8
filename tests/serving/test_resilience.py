"""The API under stress: schemathesis against the OpenAPI schema (0 server errors), a real
``interestgraph serve`` process, and Neo4j stopped and restarted under load (503 within the
request timeout, then recovery without restarting the service)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from graphdb.local import LocalNeo4j, LocalState
from tests.serving.server import serve_process


def test_no_input_the_schema_allows_causes_a_server_error(client: TestClient, api_key: str) -> None:
    """schemathesis generates requests from the committed schema for every operation."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(headers={"X-API-Key": api_key}, checks=[not_a_server_error])

        check()


def test_serve_runs_as_a_real_process(served_graph: dict, api_key: str, target) -> None:
    with serve_process(served_graph["home"], target) as base:
        response = httpx.get(f"{base}/v1/users/1/interests", headers={"X-API-Key": api_key})
        assert response.status_code in (200, 404), response.text
        assert httpx.get(f"{base}/v1/users/1/interests").status_code == 401


def test_neo4j_stopped_under_load_is_503_then_recovers(
    client: TestClient, local_neo4j: LocalState, neo4j_home: Path, users: list[str]
) -> None:
    """Runs last in this module: it stops the shared Neo4j and starts it again on its port."""
    results: list[tuple[float, int, float]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            code = client.get(f"/v1/users/{users[0]}/recommendations").status_code
            results.append((started, code, time.perf_counter() - started))
            time.sleep(0.02)

    worker = threading.Thread(target=load)
    worker.start()
    launcher = LocalNeo4j(neo4j_home)
    try:
        time.sleep(1.0)
        launcher.stop()
        down_at = time.perf_counter()
        time.sleep(4.0)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        restart_at = time.perf_counter()
        launcher.start(port=local_neo4j.port, heap="1g")
        up_at = time.perf_counter()
        deadline = up_at + 60
        while time.perf_counter() < deadline and client.get("/readyz").status_code != 200:
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join()
    during = [(code, took) for at, code, took in results if down_at < at and at + took < restart_at]
    assert during and all(code == 503 for code, _ in during), during
    assert max(took for _, took in during) < 3.0 + 1.0  # the 3 s timeout, plus slack
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert results[-1][1] == 200, results[-5:]
