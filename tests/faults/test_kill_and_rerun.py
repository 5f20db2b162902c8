"""Every batch job killed with SIGKILL at several points, then run again, ends in exactly the
graph and files of an uninterrupted run.

The module first runs the whole chain uninterrupted (ingest → embed → canonicalize-interests →
relate-interests → export → train → predict twice) and fingerprints the graph after each step
(``tests.faults.harness.fingerprint``). It then clears the graph and runs the same chain again,
each job first killed at one or more named points (``graphdb.failpoints``), each kill landing
on the partial state the previous one left, and then run plainly once: the fingerprint must
equal the reference's. The tests share the graph and run in file order.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graphdb.admin import clear_graph
from graphdb.connection import Neo4jTarget
from tests.faults.harness import Chain, environment, fingerprint, killed, run_cli


@pytest.fixture(scope="module")
def chain(
    session_driver: Driver,
    target: Neo4jTarget,
    fault_data: Path,
    reference: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Chain:
    clear_graph(session_driver)
    home = tmp_path_factory.mktemp("faulted-home")
    return Chain(fault_data, home, environment(target, home))


def _interrupt_then_finish(
    chain: Chain, args: list[str], points: list[str], driver: Driver, expected: dict[str, Any]
) -> dict[str, Any]:
    for point in points:
        killed(args, chain.env, point)
    report = chain.ok(args)
    differences = {
        key: (value, expected.get(key))
        for key, value in fingerprint(driver).items()
        if value != expected.get(key)
    }
    assert differences == {}
    return report


def test_ingest(chain: Chain, session_driver: Driver, reference: dict[str, Any]) -> None:
    points = ["write_plan.batch:1", "write_plan.batch:5", "write_plan.batch:30"]
    _interrupt_then_finish(chain, chain.ingest, points, session_driver, reference["ingest"])


def test_embed_resumes_without_re_encoding(
    chain: Chain, session_driver: Driver, reference: dict[str, Any]
) -> None:
    killed(chain.embed, chain.env, "embed.chunk:2")  # after the first chunk's commit
    with sqlite3.connect(chain.home / "embeddings.sqlite") as cache:
        committed = cache.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert committed > 0
    report = _interrupt_then_finish(
        chain, chain.embed, ["embed.chunk:3"], session_driver, reference["embed"]
    )
    assert report["encoded"] < reference["embed_report"]["encoded"] - committed


def test_canonicalize(chain: Chain, session_driver: Driver, reference: dict[str, Any]) -> None:
    assert reference["canonicalize_report"]["merged"] >= 3, "too few merges to interrupt"
    points = ["canonicalize.batch:1", "canonicalize.batch:2"]
    _interrupt_then_finish(
        chain, chain.canonicalize, points, session_driver, reference["canonicalize"]
    )


def test_ingest_after_canonicalize_changes_nothing(
    chain: Chain, session_driver: Driver, reference: dict[str, Any]
) -> None:
    report = chain.ok(chain.ingest)
    assert fingerprint(session_driver) == reference["canonicalize"]
    assert report["interests_canonicalised"] == reference["canonicalize_report"]["merged"]


def test_relate(chain: Chain, session_driver: Driver, reference: dict[str, Any]) -> None:
    _interrupt_then_finish(
        chain, chain.relate, ["write_plan.batch:1"], session_driver, reference["relate"]
    )


def test_export_switches_whole_snapshots(chain: Chain, reference: dict[str, Any]) -> None:
    killed(chain.export, chain.env, "folder.before_switch:1")
    assert not chain.snapshot.exists()  # no snapshot yet, and no half of one
    first = chain.ok(chain.export)
    assert first["content_hash"] == reference["export"]
    manifest = json.loads((chain.snapshot / "manifest.json").read_text())
    killed(chain.export, chain.env, "folder.before_switch:1")  # the old snapshot, whole
    assert json.loads((chain.snapshot / "manifest.json").read_text()) == manifest
    killed(chain.export, chain.env, "folder.before_cleanup:1")  # the new one, whole
    switched = json.loads((chain.snapshot / "manifest.json").read_text())
    assert switched["created"] >= manifest["created"]
    assert switched["content_hash"] == reference["export"]
    again = chain.ok(chain.export)
    assert again["content_hash"] == reference["export"]
    leftovers = [p.name for p in chain.snapshot.parent.glob(".snapshot.ig-*")]
    assert leftovers == [chain.snapshot.resolve().name]


def test_predict(chain: Chain, session_driver: Driver, reference: dict[str, Any]) -> None:
    checkpoint = reference["checkpoint"]
    chain.ok(chain.predict(checkpoint, 4))
    points = ["predict.chunk:3", "predict.switched:1", "predict.cleanup_batch:1"]
    _interrupt_then_finish(
        chain, chain.predict(checkpoint, 5), points, session_driver, reference["predict"]
    )
    assert reference["predict"]["nodes"].get("JobLock") is None  # the lock was released


def test_damaged_checkpoint_and_snapshot_are_named(
    chain: Chain, reference: dict[str, Any], tmp_path: Path
) -> None:
    """A truncated model.pt or Parquet file: one clear error naming it, never a traceback."""
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(Path(reference["checkpoint"]).resolve(), checkpoint)
    model = checkpoint / "model.pt"
    model.write_bytes(model.read_bytes()[:100])
    code, out = run_cli(["predict", "--checkpoint", str(checkpoint)], chain.env)
    assert code == 1 and out is not None
    assert out["error"].startswith(f"{model}: unreadable"), out
    snapshot = tmp_path / "snap"
    shutil.copytree(chain.snapshot.resolve(), snapshot)
    table = snapshot / "edges" / "interacted.parquet"
    table.write_bytes(table.read_bytes()[:50])
    code, out = run_cli(["train", "--snapshot", str(snapshot)], chain.env)
    assert code == 1 and out is not None
    assert "a file was changed or damaged after export" in out["error"], out
