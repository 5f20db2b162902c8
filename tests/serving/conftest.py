"""A served graph: the shared small MovieLens graph with an interest graph (RELATED_TO), a
quickly trained checkpoint and a current prediction run, and the API over it with one key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from graphdb.connection import Neo4jTarget
from serving.api import ServingConfig, create_app
from serving.keys import create_key
from tests.cli_json import run_json
from tests.small_graph import small_graph_home

QUICK = ["--epochs", "5", "--dim", "32", "--variants", "full", "--baselines", "none"]


@pytest.fixture(scope="package")
def served_graph(
    session_driver: Driver, target: Neo4jTarget, datasets_dir: Path, tmp_path_factory
) -> Iterator[dict]:
    """export → train → predict → relate-interests on the small graph, once for every serving
    test module; yields the reports (and the home)."""
    home = tmp_path_factory.mktemp("serve-home")
    with small_graph_home(session_driver, target, datasets_dir, home):
        yield _serve_ready(home)


def _serve_ready(small_graph: Path) -> dict:
    reports = {}
    for name, args in (
        ("export", ["export"]),
        ("train", ["train", *QUICK, "--out", str(small_graph / "serve-ckpt")]),
        ("predict", ["predict", "--checkpoint", str(small_graph / "serve-ckpt"), "--k", "10"]),
        ("relate", ["relate-interests"]),
    ):
        code, reports[name] = run_json(args)
        assert code == 0, reports[name]
    reports["home"] = small_graph
    return reports


@pytest.fixture(scope="package")
def api_key(served_graph: dict) -> str:
    return create_key(served_graph["home"] / "api_keys.json")["key"]


@pytest.fixture(scope="module")
def client(served_graph: dict, api_key: str, target: Neo4jTarget) -> Iterator[TestClient]:
    """The API in-process (lifespan run, so its driver is open), authenticated by default."""
    app = create_app(
        ServingConfig(neo4j=target, key_file=served_graph["home"] / "api_keys.json", timeout=3.0)
    )
    with TestClient(app, headers={"X-API-Key": api_key}) as test_client:
        yield test_client


@pytest.fixture()
def users(session_driver: Driver, served_graph: dict) -> list[str]:
    """Every user holding predictions in the current run."""
    records = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) "
        "MATCH (u:User)-[p:PREDICTED_ITEM]->() WHERE p.run = r.id "
        "RETURN DISTINCT u.id AS id ORDER BY id"
    ).records
    return [r["id"] for r in records]
