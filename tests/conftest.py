"""Shared fixtures: one real local Neo4j per test run (started through our own launcher), and the
public datasets from ``../shared/datasets``. Tests never mock the driver."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from features.encoder import TextEncoder
from graphdb.admin import clear_graph
from graphdb.connection import Neo4jTarget, open_driver
from graphdb.local import LocalNeo4j, LocalState
from tests.small_graph import small_graph_home

REPO = Path(__file__).resolve().parents[1]

#: tests/dgl need DGL, which lives in its own environment: `make test-dgl` runs them there
collect_ignore = ["dgl"] if importlib.util.find_spec("dgl") is None else []


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared datasets folder (``INTERESTGRAPH_DATASETS`` or ``../shared/datasets``)."""
    folder = Path(os.environ.get("INTERESTGRAPH_DATASETS", REPO.parent / "shared" / "datasets"))
    if not (folder / "movielens-small" / "ratings.csv").exists():
        raise RuntimeError(f"datasets not found under {folder}; set INTERESTGRAPH_DATASETS")
    return folder


@pytest.fixture(scope="session")
def neo4j_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interestgraph home for the test run (its launcher build is shared via the cache)."""
    return tmp_path_factory.mktemp("ighome")


@pytest.fixture(scope="session")
def local_neo4j(neo4j_home: Path) -> Iterator[LocalState]:
    """One real Neo4j for the whole run, stopped at the end."""
    launcher = LocalNeo4j(neo4j_home)
    state, _ = launcher.start(heap="1g")
    yield state
    launcher.stop()


@pytest.fixture(scope="session")
def target(local_neo4j: LocalState) -> Neo4jTarget:
    return Neo4jTarget(local_neo4j.uri, local_neo4j.user, local_neo4j.password, source="local")


@pytest.fixture(scope="session")
def session_driver(target: Neo4jTarget) -> Iterator[Driver]:
    driver = open_driver(target)
    yield driver
    driver.close()


@pytest.fixture()
def driver(session_driver: Driver) -> Driver:
    """The session's driver on an empty graph (data reset before each test; schema kept)."""
    clear_graph(session_driver)
    return session_driver


@pytest.fixture()
def neo4j_env(monkeypatch: pytest.MonkeyPatch, target: Neo4jTarget, tmp_path: Path) -> None:
    """Environment that points the CLI at the test Neo4j (as a user with NEO4J_URI would)."""
    monkeypatch.setenv("NEO4J_URI", target.uri)
    monkeypatch.setenv("NEO4J_USER", target.user)
    monkeypatch.setenv("NEO4J_PASSWORD", target.password)
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def small_graph(
    session_driver: Driver, target: Neo4jTarget, datasets_dir: Path, tmp_path_factory
) -> Iterator[Path]:
    """The small graph of :mod:`tests.small_graph`, loaded once per test module."""
    home = tmp_path_factory.mktemp("train-home")
    with small_graph_home(session_driver, target, datasets_dir, home) as ready:
        yield ready


@pytest.fixture(scope="session")
def encoder() -> TextEncoder:
    """The real packaged MiniLM on CPU, loaded once per test run."""
    return TextEncoder(device="cpu")
