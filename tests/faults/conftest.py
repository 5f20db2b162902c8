"""The fault suite's shared state: its dataset, and the fingerprints of the uninterrupted chain
every interrupted run is compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graphdb.admin import clear_graph
from graphdb.connection import Neo4jTarget
from tests.faults.harness import TRAIN, Chain, environment, fingerprint, write_fault_dataset


@pytest.fixture(scope="session")
def fault_data(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fault-data")
    write_fault_dataset(datasets_dir, folder)
    return folder


@pytest.fixture(scope="session")
def reference(
    session_driver: Driver,
    target: Neo4jTarget,
    fault_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Fingerprints of the uninterrupted chain, and the checkpoint it trained."""
    home = tmp_path_factory.mktemp("reference-home")
    chain = Chain(fault_data, home, environment(target, home))
    clear_graph(session_driver)
    prints: dict[str, Any] = {}
    for step in ("ingest", "embed", "canonicalize", "relate"):
        prints[f"{step}_report"] = chain.ok(getattr(chain, step))
        prints[step] = fingerprint(session_driver)
    prints["export"] = chain.ok(chain.export)["content_hash"]
    trained = chain.ok(
        [
            "train",
            *TRAIN,
            "--baselines",
            "none",
            "--snapshot",
            str(chain.snapshot),
            "--out",
            str(chain.home / "ckpt"),
        ]
    )
    prints["checkpoint"] = trained["checkpoint"]
    chain.ok(chain.predict(trained["checkpoint"], 4))
    chain.ok(chain.predict(trained["checkpoint"], 5))
    prints["predict"] = fingerprint(session_driver)
    return prints
