"""The CLI contract: ``--json`` prints one JSON object on stdout; errors exit non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from graphdb.connection import Neo4jTarget
from tests.cli_json import run_json as _json


@pytest.mark.usefixtures("neo4j_env")
def test_ingest_query_and_params(driver: Driver, tmp_path: Path) -> None:
    (tmp_path / "interactions.csv").write_text("user_id,item_id\nu1,i1\nu2,i1\n")
    code, report = _json(["ingest", "csv", "--data-dir", str(tmp_path)])
    assert code == 0
    assert report["nodes"]["User"] == 2 and report["relationships"]["INTERACTED"] == 2
    assert report["relationships_per_second"] > 0

    code, out = _json(["query", "MATCH (u:User) RETURN count(u) AS n"])
    assert (code, out) == (0, {"rows": [{"n": 2}]})
    code, out = _json(
        [
            "query",
            "MATCH (u:User {id: $id}) RETURN u.id AS id, $n + 1 AS m",
            "--param",
            "id=u1",
            "--param",
            "n=41",
        ]
    )
    assert out == {"rows": [{"id": "u1", "m": 42}]}


@pytest.mark.usefixtures("neo4j_env")
def test_routing_uri_reads_and_writes(
    driver: Driver, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``neo4j://`` (routing: writes to the leader, reads spread over the cluster, as on Aura)
    works wherever ``bolt://`` does; a single server routes to itself."""
    monkeypatch.setenv("NEO4J_URI", target.uri.replace("bolt://", "neo4j://"))
    code, _ = _json(["query", "CREATE (:User {id: $id})", "--param", "id=r1", "--write"])
    assert code == 0
    code, out = _json(["query", "MATCH (u:User {id: 'r1'}) RETURN count(u) AS n"])
    assert (code, out) == (0, {"rows": [{"n": 1}]})
    code, stats = _json(["stats"])
    assert code == 0 and stats["nodes"]["User"] == 1


@pytest.mark.usefixtures("neo4j_env")
def test_query_is_read_only_unless_write(driver: Driver) -> None:
    code, out = _json(["query", "CREATE (:User {id: 'x'})"])
    assert code == 1 and "error" in out
    code, _ = _json(["query", "CREATE (:User {id: $id})", "--param", "id=x", "--write"])
    assert code == 0
    assert (
        driver.execute_query("MATCH (u:User {id: 'x'}) RETURN count(u) AS n").records[0]["n"] == 1
    )


def test_no_neo4j_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(tmp_path))
    code, out = _json(["query", "RETURN 1"])
    assert code == 1
    assert "interestgraph db start" in out["error"]


def test_bad_dataset_folder_names_expected_files(tmp_path: Path) -> None:
    code, out = _json(["ingest", "lastfm-hetrec", "--data-dir", str(tmp_path)])
    assert code == 1
    assert "missing artists.dat, tags.dat" in out["error"]


def test_demo_starts_neo4j_and_ingests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, datasets_dir: Path
) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(tmp_path))
    try:
        code, out = _json(["demo", "--datasets-dir", str(datasets_dir), "--no-embed"])
        assert code == 0
        assert out["ingest"]["nodes"]["User"] == 610
        assert out["ingest"]["relationships"]["INTERACTED"] == 100836
        code, rows = _json(["query", "MATCH (i:Item) RETURN count(i) AS n"])
        assert rows == {"rows": [{"n": 9742}]}  # found through the state file, no env
    finally:
        code, stopped = _json(["db", "stop"])
    assert stopped["was_running"] is True and stopped["forced"] is False


@pytest.mark.usefixtures("neo4j_env")
def test_load_profiles_writes_user_and_item_texts(driver: Driver, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "interactions.csv").write_text("user_id,item_id\n2,51\n3,52\n")
    assert _json(["ingest", "csv", "--data-dir", str(data)])[0] == 0
    colakg = tmp_path / "colakg"
    colakg.mkdir()
    (colakg / "user_map.txt").write_text("2 0\n3 1\n")
    (colakg / "item_map.txt").write_text("51 0\n52 1\n")
    (colakg / "llm_response_user.json").write_text('{"0": "Loves synth-pop.", "1": "Metal fan."}')
    (colakg / "llm_response_item.json").write_text('{"0": "An 80s band.", "1": "A metal band."}')
    code, out = _json(["load-profiles", str(colakg)])
    assert code == 0, out
    assert [r["written"] for r in out["loaded"]] == [2, 2]
    rows = driver.execute_query(
        "MATCH (u:User {id: '2'})-[:INTERACTED]->(i:Item) "
        "RETURN u.text AS user, i.text AS item, u.text_source AS source"
    ).records[0]
    assert rows["user"] == "Loves synth-pop." and rows["item"] == "An 80s band."
    assert rows["source"].startswith("precomputed:")
    (colakg / "user_map.txt").write_text("2 0\n3\n")
    code, out = _json(["load-profiles", str(colakg)])
    assert code == 1 and "user_map.txt:2" in out["error"]


def test_the_dgl_backend_without_dgl_says_how_to_get_it(tmp_path: Path) -> None:
    """The main environment has no DGL: asking for it fails at once, before any work."""
    code, out = _json(["train", "--backend", "dgl", "--snapshot", str(tmp_path / "none")])
    assert code == 1
    assert "make setup-dgl" in out["error"] and ".venv-dgl/bin/interestgraph" in out["error"]
    code, out = _json(["train", "--backend", "dgl", "--model", "sage", "--snapshot", "x"])
    assert code == 1 and "lgc only" in out["error"]
