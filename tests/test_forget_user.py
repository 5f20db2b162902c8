"""``forget-user`` end to end through the CLI, against the real Neo4j: after it, no node,
relationship, property, cache row, snapshot or checkpoint under the home mentions the user
(searched byte-wise), the aggregates their tags fed are recounted, and a second run changes
nothing but its record; with ``--compact-store`` the local Neo4j's own files hold no byte of
the user either."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from neo4j import Driver

from graphdb.connection import open_driver, resolve_target
from graphdb.local import LocalNeo4j
from tests.cli_json import run_json

TARGET = "erasure-target-7f3a9"
USERS = [f"member-{n:04d}" for n in range(24)]
ITEMS = [f"film-{n:03d}" for n in range(30)]


def _dataset(folder: Path, target: str = TARGET) -> Path:
    folder.mkdir()
    rows = ["user_id,item_id,rating"]
    for u, user in enumerate([target, *USERS]):
        rows += [f"{user},{ITEMS[(u * 7 + k * 5) % len(ITEMS)]},4" for k in range(9)]
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    titles = ["item_id,title"] + [f"{item},The {item.replace('-', ' ')} story" for item in ITEMS]
    (folder / "items.csv").write_text("\n".join(titles) + "\n")
    (folder / "users.csv").write_text(
        f"user_id,name,attr_country\n{target},Target Person,NO\n{USERS[0]},Ada,SE\n"
    )
    (folder / "item_interests.csv").write_text(
        "item_id,interest,kind\n"
        + "".join(f"{i},{'noir' if n % 2 else 'comedy'},genre\n" for n, i in enumerate(ITEMS))
    )
    (folder / "user_interests.csv").write_text(f"user_id,interest\n{target},jazz\n")
    shared, alone = ITEMS[0], ITEMS[7]
    (folder / "tag_events.csv").write_text(
        "user_id,item_id,interest,ts\n"
        f"{target},{shared},heist,10\n{USERS[1]},{shared},heist,11\n{target},{alone},lonely,12\n"
        + "".join(f"{u},{ITEMS[1 + n % 4]},heist,{20 + n}\n" for n, u in enumerate(USERS[2:8]))
    )
    return folder


#: a property that holds the id: a string containing it, or a list of strings one of which does
HOLDS = (
    "any(k IN keys(x) WHERE (x[k] IS :: STRING AND x[k] CONTAINS $id) OR "
    "(x[k] IS :: LIST<STRING NOT NULL> AND any(s IN x[k] WHERE s CONTAINS $id)))"
)


def _mentions_in_graph(driver: Driver) -> int:
    return driver.execute_query(
        f"CALL () {{ MATCH (x) WHERE {HOLDS} RETURN count(x) AS c UNION ALL "
        f"MATCH ()-[x]->() WHERE {HOLDS} RETURN count(x) AS c }} RETURN sum(c) AS mentions",
        id=TARGET,
    ).records[0]["mentions"]


def _user_tag_weight(driver: Driver, item: str, interest: str) -> int | None:
    records = driver.execute_query(
        "MATCH (:Item {id: $item})-[h:HAS_INTEREST {source: 'user_tag'}]->(:Interest {id: $i}) "
        "RETURN h.weight AS w",
        item=item,
        i=interest,
    ).records
    return records[0]["w"] if records else None


@pytest.mark.usefixtures("neo4j_env")
def test_forget_user_leaves_no_trace_and_recounts_what_they_fed(
    driver: Driver, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    folder = _dataset(tmp_path / "data")
    ckpt = str(home / "ckpt")
    for args in (
        ["ingest", "csv", "--data-dir", str(folder)],
        ["embed"],
        ["relate-interests", "--min-count", "1"],
        ["export"],
        [
            "train",
            "--epochs",
            "2",
            "--dim",
            "16",
            "--variants",
            "full",
            "--baselines",
            "none",
            "--out",
            ckpt,
        ],
        ["predict", "--checkpoint", ckpt, "--k", "5", "--paths", "5"],
    ):
        code, report = run_json(args)
        assert code == 0, (args, report)
    assert _mentions_in_graph(driver) > 0
    assert _user_tag_weight(driver, ITEMS[0], "heist") == 2
    assert _user_tag_weight(driver, ITEMS[7], "lonely") == 1

    code, first = run_json(["forget-user", TARGET])
    assert code == 0, first
    assert first["in_graph"] and first["relationships_deleted"] >= 9 + 1 + 3
    assert first["explanations_rewritten"] > 0  # others' "similar users" paths through them
    assert {a["kind"] for a in first["artefacts"]} == {"snapshot", "checkpoint"}
    assert first["files_still_mentioning"]  # the artefacts, kept without --purge-artefacts
    assert _mentions_in_graph(driver) == 0
    assert _user_tag_weight(driver, ITEMS[0], "heist") == 1  # one tagger left
    assert _user_tag_weight(driver, ITEMS[7], "lonely") is None  # nobody left: deleted

    code, second = run_json(["forget-user", TARGET, "--purge-artefacts"])
    assert code == 0, second
    assert not second["in_graph"] and second["relationships_deleted"] == 0
    assert second["artefacts_purged"] and len(second["artefacts"]) == 2
    assert second["files_still_mentioning"] == []
    for path in home.rglob("*"):  # the check the command makes, made again here
        if path.is_file() and "neo4j" not in path.relative_to(home).parts[:1]:
            assert TARGET.encode() not in path.read_bytes(), path
    records = [json.loads(line) for line in (home / "erasures.jsonl").read_text().splitlines()]
    assert [r["user_sha256"] for r in records] == [hashlib.sha256(TARGET.encode()).hexdigest()] * 2
    assert all(TARGET not in json.dumps(r) for r in records)

    code, again = run_json(["export"])  # the pipeline goes on without the user
    assert code == 0 and again["nodes"]["user"] == len(USERS)


#: an id Neo4j cannot pack into a property record's short-string form (upper case, spaces,
#: punctuation), so it is written as plain UTF-8 into the string store, the index and the log
UNPACKED = "Forget Me #7F3A9 (stored as plain bytes)"


def test_compact_store_removes_the_users_bytes_from_neo4j(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    folder = _dataset(tmp_path / "data", UNPACKED)
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(home))
    launcher = LocalNeo4j(home)  # a Neo4j of its own: compaction stops and restarts it
    state, _ = launcher.start(heap="512m")
    try:
        code, report = run_json(["ingest", "csv", "--data-dir", str(folder)])
        assert code == 0, report
        constraints = _constraint_names(home)

        code, plain = run_json(["forget-user", UNPACKED])
        assert code == 0 and plain["in_graph"], plain
        kept = plain["files_still_mentioning"]  # deleted, yet its bytes stay in Neo4j's files
        assert kept and all(Path(p).is_relative_to(home / "neo4j" / "data") for p in kept), kept

        code, compacted = run_json(["forget-user", UNPACKED, "--compact-store"])
        assert code == 0, compacted
        store = compacted["store_compaction"]
        assert store["compacted"] and store["restarted"]
        assert compacted["files_still_mentioning"] == []
        for path in home.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert UNPACKED.encode() not in data and b"Target Person" not in data, path
        assert not (home / "neo4j.compacting").exists() and not (home / "neo4j.old-data").exists()
        record = json.loads((home / "erasures.jsonl").read_text().splitlines()[-1])
        assert record["store_compacted"] is True

        driver = open_driver(resolve_target(home))  # same port, same password, same graph
        counts = driver.execute_query(
            "RETURN COUNT { MATCH (u:User) } AS users, COUNT { MATCH (n) } AS nodes, "
            "COUNT { MATCH ()-[r]->() } AS relationships"
        ).records[0]
        driver.close()
        assert counts["users"] == len(USERS) and _constraint_names(home) == constraints
        assert (store["nodes"], store["relationships"]) == (
            counts["nodes"],
            counts["relationships"],
        )
        assert launcher.running_state().port == state.port  # type: ignore[union-attr]
    finally:
        launcher.stop()


def _constraint_names(home: Path) -> set[str]:
    driver = open_driver(resolve_target(home))
    try:
        return {r["name"] for r in driver.execute_query("SHOW CONSTRAINTS YIELD name").records}
    finally:
        driver.close()


@pytest.mark.usefixtures("neo4j_env")
def test_compact_store_is_refused_for_a_server_given_by_uri() -> None:
    code, out = run_json(["forget-user", TARGET, "--compact-store"])
    assert code == 1 and "NEO4J_URI" in out["error"]
