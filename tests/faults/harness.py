"""The fault suite's tools: run a real ``interestgraph`` command in its own process (optionally
armed to SIGKILL itself at a named point, see ``graphdb.failpoints``), and fingerprint the graph
so that an interrupted-then-repeated job can be compared with an uninterrupted one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from neo4j import Driver

from graphdb.connection import Neo4jTarget
from tests.small_graph import write_movielens_subset

REPO = Path(__file__).resolve().parents[2]

#: spellings canonicalisation merges (with the genre ``Sci-Fi`` and each other), so a merge job
#: has several batches to be killed between
VARIANT_TAGS = ("scifi", "science fiction", "Sci Fi", "dark comedies", "dark comedy", "Dark-Comedy")


def write_fault_dataset(datasets_dir: Path, folder: Path) -> None:
    """A small MovieLens subset (60 users, 150 films) plus tagging events in several
    spellings of the same interests."""
    write_movielens_subset(datasets_dir / "movielens-small", folder, users=60, items=150)
    interactions = pd.read_csv(folder / "interactions.csv")
    rows = interactions.sample(len(VARIANT_TAGS) * 4, random_state=11)
    extra = rows.assign(interest=[VARIANT_TAGS[n % len(VARIANT_TAGS)] for n in range(len(rows))])
    events = pd.read_csv(folder / "tag_events.csv")
    pd.concat([events, extra[["user_id", "item_id", "interest", "ts"]]]).to_csv(
        folder / "tag_events.csv", index=False
    )


def environment(target: Neo4jTarget | None, home: Path) -> dict[str, str]:
    """What a user's shell would hold to point the CLI at ``home`` and at ``target`` (None: the
    home's own local Neo4j, wherever it was last started)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "INTERESTGRAPH_"))}
    env["INTERESTGRAPH_HOME"] = str(home)
    if target is not None:
        env.update(NEO4J_URI=target.uri, NEO4J_USER=target.user, NEO4J_PASSWORD=target.password)
    return env


def run_cli(
    args: list[str], env: dict[str, str], kill_at: str | None = None, timeout: float = 600
) -> tuple[int, dict[str, Any] | None]:
    """Run ``interestgraph ARGS --json`` in a fresh process; returns its exit code and the JSON
    it printed (None when killed before printing)."""
    run_env = dict(env)
    if kill_at:
        run_env["INTERESTGRAPH_KILL_AT"] = kill_at
    done = subprocess.run(
        [sys.executable, "-m", "interestgraph.cli", *args, "--json"],
        cwd=REPO,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else None


def killed(args: list[str], env: dict[str, str], point: str) -> None:
    """Run a command armed to die at ``point``; fail the test if it did not die there."""
    code, out = run_cli(args, env, kill_at=point)
    assert code == -signal.SIGKILL, f"{args[0]} was not killed at {point}: exit {code}, {out}"


def _digest(rows: list[Any]) -> str:
    return hashlib.sha256(json.dumps(sorted(rows), default=str).encode()).hexdigest()[:16]


def fingerprint(driver: Driver) -> dict[str, Any]:
    """Everything a job may change, comparable across runs: nodes per label; relationships per
    type and source with their weight and count sums; embedding keys; interest aliases and
    merge records; prediction runs and the current run's predictions."""

    def rows(query: str) -> list[dict[str, Any]]:
        return [r.data() for r in driver.execute_query(query).records]

    return {
        "nodes": {
            r["label"]: r["n"]
            for r in rows("MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n")
        },
        "relationships": {
            r["name"]: [r["n"], round(r["weight"], 3), r["count"]]
            for r in rows(
                "MATCH ()-[r]->() RETURN type(r) + ':' + coalesce(r.source, '') AS name, "
                "count(*) AS n, sum(coalesce(toFloat(r.weight), 0.0)) AS weight, "
                "sum(coalesce(r.count, 0)) AS count"
            )
        },
        "embedding_keys": _digest(
            [
                list(r.values())
                for r in rows(
                    "MATCH (n) WHERE n.embedding IS NOT NULL "
                    "RETURN n.id AS id, n.embedding_key AS key"
                )
            ]
        ),
        "interests": _digest(
            [
                [r["id"], sorted(r["aliases"] or []), sorted(r["merged"] or [])]
                for r in rows(
                    "MATCH (t:Interest) RETURN t.id AS id, t.aliases AS aliases, "
                    "t.merged_ids AS merged"
                )
            ]
        ),
        "runs": sorted(
            [r["status"], r["k"]]
            for r in rows("MATCH (r:PredictionRun) RETURN r.status AS status, r.k AS k")
        ),
        "predictions": _digest(
            [
                list(r.values())
                for r in rows(
                    "MATCH (run:PredictionRun {status: 'current'}) "
                    "MATCH (u:User)-[p]->(t) WHERE p.run = run.id "
                    "RETURN type(p), u.id, t.id, p.rank, round(p.score, 4), p.explanations"
                )
            ]
        ),
    }


TRAIN = ["--epochs", "5", "--dim", "16", "--batch-size", "2048", "--variants", "full"]


class Chain:
    """The commands of the chain, for one interestgraph home."""

    def __init__(self, data: Path, home: Path, env: dict[str, str]):
        self.env = env
        self.home = home
        self.ingest = ["ingest", "csv", "--data-dir", str(data), "--batch-size", "100"]
        self.embed = ["embed", "--batch-size", "16"]
        self.canonicalize = ["canonicalize-interests", "--batch-size", "1"]
        self.relate = ["relate-interests", "--min-count", "2"]
        self.snapshot = home / "snapshot"
        self.export = ["export", "--out", str(self.snapshot)]

    def predict(self, checkpoint: str, k: int) -> list[str]:
        return [
            "predict",
            "--checkpoint",
            checkpoint,
            "--k",
            str(k),
            "--users-per-transaction",
            "10",
        ]

    def ok(self, args: list[str]) -> dict[str, Any]:
        code, out = run_cli(args, self.env)
        assert code == 0 and out is not None, (args, out)
        return out
