"""The embedded default: start, status, stop with no JVM left, restart keeping data, and errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from graphdb.connection import Neo4jTarget, open_driver, resolve_target
from graphdb.errors import ConnectionNotConfigured, LocalNeo4jError
from graphdb.local import LocalNeo4j, LocalState, _pid_alive


def test_stop_then_start_keeps_data_and_leaves_no_jvm(tmp_path: Path) -> None:
    # A second instance (own home and data) so the session's Neo4j keeps serving other tests.
    home = tmp_path / "home"
    launcher = LocalNeo4j(home)
    state, started = launcher.start(heap="512m")
    assert started and launcher.status()["status"] == "running"
    assert launcher.start()[1] is False  # a second start finds the running one

    target = resolve_target(home)  # found through the state file alone, no env needed
    driver = open_driver(target)
    driver.execute_query("CREATE (:User {id: 'keep-me'})")
    driver.close()

    report = launcher.stop()
    assert report == {"status": "stopped", "was_running": True, "forced": False, "pid": state.pid}
    assert not _pid_alive(state.pid)
    assert launcher.status() == {"status": "stopped"}
    with pytest.raises(ConnectionNotConfigured, match="interestgraph db start"):
        resolve_target(home)

    again, _ = launcher.start(data_dir=Path(state.data_dir), heap="512m")
    driver = open_driver(resolve_target(home))
    assert (
        driver.execute_query("MATCH (u:User {id: 'keep-me'}) RETURN count(u) AS n").records[0]["n"]
        == 1
    )
    driver.close()
    assert again.password == state.password  # the data folder keeps its password
    launcher.stop()
    assert not _pid_alive(again.pid)


def test_port_in_use_is_a_clear_error(tmp_path: Path, local_neo4j: LocalState) -> None:
    with pytest.raises(LocalNeo4jError, match=f"Port {local_neo4j.port} .* already in use"):
        LocalNeo4j(tmp_path).start(port=local_neo4j.port)


def test_dead_process_is_reported(tmp_path: Path) -> None:
    launcher = LocalNeo4j(tmp_path)
    dead = LocalState(
        pid=2**22 + 7,
        port=1,
        uri="bolt://127.0.0.1:1",
        user="neo4j",
        password="x" * 8,
        data_dir=str(tmp_path),
        log_path="l",
        started_at=0.0,
    )
    launcher._write_state(dead)
    status = launcher.status()
    assert status["status"] == "dead"
    assert "interestgraph db start" in str(status["message"])
    assert launcher.stop()["note"] == "removed a stale state file"


def test_wrong_password_is_a_clear_error(target: Neo4jTarget) -> None:
    bad = Neo4jTarget(target.uri, target.user, "not-the-password")
    with pytest.raises(Exception, match="refused user 'neo4j'"):
        open_driver(bad)


def test_nothing_listening_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(Exception, match="does not answer"):
        open_driver(Neo4jTarget(f"bolt://127.0.0.1:{port}", "neo4j", "password1"))


def test_compaction_killed_while_swapping_is_finished_by_the_next_run(tmp_path: Path) -> None:
    # The state a kill between the two renames leaves: the copy complete in the staging home,
    # the old data moved aside, no live data. The next run finishes the swap without copying.
    data_dir = tmp_path / "neo4j"
    data_dir.mkdir()
    staging, retired = tmp_path / "neo4j.compacting", tmp_path / "neo4j.old-data"
    (staging / "data" / "databases").mkdir(parents=True)
    (staging / "data" / "databases" / "copied").write_text("live graph only")
    (staging / "COMPLETE.json").write_text('{"nodes": 3, "relationships": 2}')
    retired.mkdir()
    (retired / "old").write_text("deleted records")

    report = LocalNeo4j(tmp_path).compact(data_dir=data_dir)

    assert (report["nodes"], report["relationships"]) == (3, 2)
    assert (data_dir / "data" / "databases" / "copied").read_text() == "live graph only"
    assert not staging.exists() and not retired.exists()


def test_compacting_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LocalNeo4jError, match="No local Neo4j store at"):
        LocalNeo4j(tmp_path).compact()
