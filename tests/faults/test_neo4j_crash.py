"""Neo4j itself killed: the JVM SIGKILLed in the middle of ``ingest`` and of ``predict``. The
command reports the lost connection as one ``{"error": …}`` line, ``db start`` recovers the
store, and the same command run again ends in the state of an uninterrupted run. With Neo4j
stopped, every command answers ``--json`` with an error object, never a traceback.

Runs its own local Neo4j (the home's, started and restarted through ``interestgraph db``), so
the session's Neo4j is never killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graphdb.connection import Neo4jTarget, open_driver
from graphdb.local import LocalNeo4j
from tests.faults.harness import REPO, Chain, environment, fingerprint, run_cli


@pytest.fixture(scope="module")
def crashable(
    fault_data: Path, local_neo4j: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    """A chain whose commands use their home's own local Neo4j (no NEO4J_URI)."""
    home = tmp_path_factory.mktemp("crash-home")
    chain = Chain(fault_data, home, environment(None, home))
    started = chain.ok(["db", "start"])
    assert started["status"] == "running"
    yield chain
    LocalNeo4j(home).stop()


def _driver(chain: Chain) -> Driver:
    state = LocalNeo4j(chain.home).running_state()
    assert state is not None, "the local Neo4j is not running"
    return open_driver(Neo4jTarget(state.uri, state.user, state.password, source="local"))


def _kill_neo4j_once(chain: Chain, args: list[str], progress_query: str) -> dict[str, Any]:
    """Start ``args``; SIGKILL the JVM as soon as ``progress_query`` counts some writes; return
    the JSON the command printed when it gave up."""
    state = LocalNeo4j(chain.home).running_state()
    assert state is not None
    process = subprocess.Popen(
        [sys.executable, "-m", "interestgraph.cli", *args, "--json"],
        cwd=REPO,
        env=chain.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    with _driver(chain) as driver:
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            if driver.execute_query(progress_query).records[0][0] > 0:
                os.kill(state.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 1, f"{args[0]} did not fail after the crash: {out}"
    lines = out.strip().splitlines()
    return json.loads(lines[-1])


def test_neo4j_killed_mid_ingest(crashable: Chain, reference: dict[str, Any]) -> None:
    error = _kill_neo4j_once(
        crashable, crashable.ingest, "MATCH ()-[r:INTERACTED]->() RETURN count(r)"
    )
    assert "Neo4j" in error["error"] and "run the command again" in error["error"]
    assert crashable.ok(["db", "start"])["status"] == "running"  # recovers the store
    crashable.ok(crashable.ingest)
    with _driver(crashable) as driver:
        assert fingerprint(driver) == reference["ingest"]


def test_neo4j_killed_mid_predict(crashable: Chain, reference: dict[str, Any]) -> None:
    checkpoint = reference["checkpoint"]
    five = crashable.predict(checkpoint, 5)
    crashable.ok(five)
    with _driver(crashable) as driver:
        expected = fingerprint(driver)
    crashable.ok(crashable.predict(checkpoint, 4))
    error = _kill_neo4j_once(
        crashable,
        five,
        "MATCH (r:PredictionRun {status: 'writing'}) "
        "MATCH ()-[p:PREDICTED_ITEM {run: r.id}]->() RETURN count(p)",
    )
    assert "Neo4j" in error["error"]
    crashable.ok(["db", "start"])
    crashable.ok(five)
    with _driver(crashable) as driver:
        assert fingerprint(driver) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["query", "MATCH (n) RETURN count(n) AS n"],
        ["ingest", "csv", "--data-dir", "{data}"],
        ["export", "--out", "{home}/snap"],
        ["relate-interests"],
        ["predict", "--checkpoint", "{checkpoint}"],
        ["recommend", "1"],
    ],
    ids=lambda a: a[0],
)
def test_every_command_answers_json_when_neo4j_is_down(
    crashable: Chain, reference: dict[str, Any], fault_data: Path, args: list[str]
) -> None:
    LocalNeo4j(crashable.home).stop()
    filled = [
        a.format(data=fault_data, home=crashable.home, checkpoint=reference["checkpoint"])
        for a in args
    ]
    code, out = run_cli(filled, crashable.env)
    assert code == 1 and out is not None and "Neo4j" in out["error"], out
