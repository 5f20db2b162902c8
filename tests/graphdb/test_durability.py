"""What the graph layer promises when things go wrong: folders switch atomically, a damaged or
edited snapshot is refused, export reads one committed state, and the predict lock admits one
job at a time but never a dead one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from neo4j import Driver

from graphdb.errors import GraphDBError
from graphdb.export import export_snapshot, last_commit
from graphdb.files import atomic_folder
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from graphdb.locks import LockHeld, job_lock
from graphdb.snapshot import (
    EVENT_COLUMNS,
    RELATIONS,
    Snapshot,
    SnapshotError,
    read_snapshot,
    write_snapshot,
)


def test_folder_switch_is_one_rename_and_old_versions_go(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()  # a folder written before the switch scheme: migrated on first rewrite
    (target / "v").write_text("0")
    for version in ("1", "2"):
        with atomic_folder(target) as staging:
            (staging / "v").write_text(version)
        assert target.is_symlink() and (target / "v").read_text() == version
    with pytest.raises(RuntimeError), atomic_folder(target) as staging:
        (staging / "v").write_text("half")
        raise RuntimeError("killed while writing")
    assert (target / "v").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir() if p.name != "ckpt"] == [target.resolve().name]


def test_folder_left_by_a_killed_writer_is_cleaned_by_the_next(tmp_path: Path) -> None:
    target = tmp_path / "snap"
    with atomic_folder(target) as staging:
        (staging / "v").write_text("1")
    (tmp_path / ".snap.ig-abandoned").mkdir()  # what a SIGKILL before the switch leaves
    (tmp_path / ".snap.v2.ig-other").mkdir()  # another folder's version: not ours to remove
    with atomic_folder(target) as staging:
        (staging / "v").write_text("2")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([".snap.v2.ig-other", "snap", target.resolve().name])


def test_a_concurrent_writers_staging_survives_another_writers_switch(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # what a second `train` in the same home holds while it writes
        staging = tmp_path / f".checkpoint.ig-{other.pid}-k2x9"
        staging.mkdir()
        (staging / "model.pt").write_text("half written")
        link = tmp_path / f".checkpoint.ig-link-{other.pid}"
        link.symlink_to(staging.name, target_is_directory=True)
        with atomic_folder(target) as mine:
            (mine / "v").write_text("1")
        assert (staging / "model.pt").read_text() == "half written" and link.is_symlink()
    finally:
        other.kill()
        other.wait()
    with atomic_folder(target) as mine:  # its writer is gone: now it is debris
        (mine / "v").write_text("2")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["checkpoint", mine.name])


def _tiny_snapshot() -> Snapshot:
    nodes = {
        "user": pd.DataFrame({"id": ["u1"], "name": ["u1"], "profile": [None]}),
        "item": pd.DataFrame(
            {"id": ["i1"], "name": ["i1"], "year": [None], "description": [None], "genres": [None]}
        ),
        "interest": pd.DataFrame({"id": ["t1"], "name": ["t1"], "kind": ["tag"]}),
    }
    embeddings = {t: np.ones((1, 4), dtype=np.float32) for t in nodes}
    empty = {
        "src": np.zeros(0, np.int64),
        "dst": np.zeros(0, np.int64),
        "weight": np.zeros(0, np.float32),
        "ts": np.zeros(0, np.int64),
        "source": np.zeros(0, str),
    }
    edges = {r: pd.DataFrame(empty) for r in RELATIONS}
    events = pd.DataFrame({c: np.zeros(0, np.int64) for c in EVENT_COLUMNS})
    return Snapshot(nodes, embeddings, edges, {}, events)


def test_snapshot_that_changed_after_export_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    write_snapshot(_tiny_snapshot(), folder)
    assert read_snapshot(folder).num_nodes("user") == 1
    matrix = np.load(folder / "embeddings" / "item.npy")
    np.save(folder / "embeddings" / "item.npy", matrix * 2)  # a same-shaped edit
    with pytest.raises(SnapshotError, match="differs from the manifest"):
        read_snapshot(folder)


def test_damaged_snapshot_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    write_snapshot(_tiny_snapshot(), folder)
    (folder / "manifest.json").write_text('{"format": 2, "content_hash": ')
    with pytest.raises(SnapshotError, match=r"manifest\.json: unreadable"):
        read_snapshot(folder)


def _load(driver: Driver, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "interactions.csv").write_text(
        "user_id,item_id\n" + "".join(f"u{n % 20},i{n}\n" for n in range(200))
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)
    driver.execute_query("MATCH (n) WHERE n:User OR n:Item SET n.embedding = [1.0, 0.0]")


def test_export_reads_one_committed_state(driver: Driver, tmp_path: Path) -> None:
    _load(driver, tmp_path)
    _, quiet = export_snapshot(driver, progress=False)
    assert quiet["attempts"] == 1
    stop = threading.Event()

    def writer() -> None:  # a job writing all through the export
        n = 0
        while not stop.is_set():
            driver.execute_query("MATCH (i:Item {id: 'i0'}) SET i.n = $n", n=n)
            n += 1

    thread = threading.Thread(target=writer)
    before = last_commit(driver)
    thread.start()
    try:
        with pytest.raises(GraphDBError, match="the graph changed while export read it, 2 reads"):
            export_snapshot(driver, progress=False, attempts=2)
    finally:
        stop.set()
        thread.join()
    assert last_commit(driver) != before


def test_second_predict_job_is_refused_while_the_first_lives(driver: Driver) -> None:
    with job_lock(driver, "predict") as first:
        refused = pytest.raises(LockHeld, match=r"another predict job holds the lock: .*--wait")
        with refused, job_lock(driver, "predict"):
            pass
        holder = driver.execute_query(
            "MATCH (l:JobLock {id: 'predict'}) RETURN l.owner AS owner"
        ).records[0]["owner"]
        assert holder == first.owner
    assert driver.execute_query("MATCH (l:JobLock) RETURN count(l) AS n").records[0]["n"] == 0


def _plant_lock(driver: Driver, host: str, pid: int, silent_seconds: float) -> None:
    beat = (datetime.now(UTC) - timedelta(seconds=silent_seconds)).isoformat()
    driver.execute_query(
        "CREATE (:JobLock {id: 'predict', owner: 'dead', host: $host, pid: $pid, "
        "since: datetime($beat), heartbeat: datetime($beat)})",
        host=host,
        pid=pid,
        beat=beat,
    )


def test_lock_of_a_dead_job_is_taken_over(driver: Driver) -> None:
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _plant_lock(driver, socket.gethostname(), int(exited.stdout), silent_seconds=1)
    with job_lock(driver, "predict") as lock:  # same host, pid gone: at once
        assert lock.took_over == {"owner": "dead", "silent": 1}
    _plant_lock(driver, "elsewhere", 1, silent_seconds=300)
    with job_lock(driver, "predict", stale_seconds=60) as lock:  # other host: heartbeat age
        assert lock.took_over is not None and lock.took_over["owner"] == "dead"
    driver.execute_query("MATCH (l:JobLock) DELETE l")
    _plant_lock(driver, "elsewhere", os.getpid(), silent_seconds=5)
    with pytest.raises(LockHeld), job_lock(driver, "predict", stale_seconds=60, wait=0.3):
        pass
