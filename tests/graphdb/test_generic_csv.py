"""The generic CSV format: user data without Python, injection-proof, strict about columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from neo4j import Driver

from graphdb.errors import DataValidationError
from graphdb.export import export_snapshot
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from graphdb.stats import graph_counts
from tests.cli_json import run_json

INJECTION = "x'}) DETACH DELETE n //"


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, body in files.items():
        (tmp_path / f"{name}.csv").write_text(body, encoding="utf-8")
    return tmp_path


def test_small_graph_loads_with_all_files(driver: Driver, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        interactions="user_id,item_id,weight,rating,ts\nu1,i1,2,4.5,10\nu1,i1,1,3.0,20\nu2,i2,,,\n",
        users="user_id,name\nu1,Ada\n",
        items=f'item_id,title\ni1,"{INJECTION}"\ni3,Unrated\n',
        item_interests="item_id,interest,kind\ni1,Jazz,genre\ni2,jazz ,\n",
        user_interests="user_id,interest,weight\nu2,Blue Note,3\n",
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)
    counts = graph_counts(driver)
    assert counts["nodes"] == {"User": 2, "Item": 3, "Interest": 2}
    assert counts["relationships"]["INTERACTED"] == 2
    edge = driver.execute_query(
        "MATCH (:User {id: 'u1'})-[r:INTERACTED]->(i:Item {id: 'i1'}) "
        "RETURN r.weight AS w, r.rating AS rating, r.ts AS ts, i.title AS title"
    ).records[0]
    # duplicate rows fold: weights add, the latest rating wins; the title is stored verbatim
    assert (edge["w"], edge["rating"], edge["ts"], edge["title"]) == (3.0, 3.0, 20, INJECTION)
    assert counts["relationships_by_source"] == {
        "HAS_INTEREST:catalog": 2,
        "INTERESTED_IN:explicit": 1,
    }


def test_cypher_in_values_is_stored_as_text_and_deletes_nothing(
    driver: Driver, tmp_path: Path
) -> None:
    driver.execute_query("CREATE (:User {id: 'bystander'})")
    folder = _folder(
        tmp_path,
        interactions=f'user_id,item_id\n"{INJECTION}","{INJECTION}"\n',
        item_interests=f'item_id,interest\n"{INJECTION}","{INJECTION}"\n',
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)
    record = driver.execute_query(
        "MATCH (u:User {id: $id})-[:INTERACTED]->(i:Item {id: $id})-[:HAS_INTEREST]->(t) "
        "RETURN t.aliases AS aliases",
        id=INJECTION,
    ).records[0]
    assert record["aliases"] == [INJECTION]
    assert graph_counts(driver)["nodes"]["User"] == 2  # the bystander survived


def test_attribute_columns_are_stored_and_exported_but_never_text(
    driver: Driver, tmp_path: Path
) -> None:
    folder = _folder(
        tmp_path,
        interactions="user_id,item_id\nu1,i1\nu2,i1\n",
        users=f'user_id,name,attr_country,attr_age_band\nu1,Ada,NO,30-39\nu2,Bo,"{INJECTION}",\n',
        items="item_id,title,attr_provider\ni1,Kind of Blue,Columbia\n",
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)
    stored = driver.execute_query(
        "MATCH (u:User) RETURN u.id AS id, u.attr_country AS country, u.attr_age_band AS band, "
        "u.text AS text ORDER BY id"
    ).records
    assert [(r["id"], r["country"], r["band"]) for r in stored] == [
        ("u1", "NO", "30-39"),
        ("u2", INJECTION, None),  # an empty cell sets nothing
    ]
    assert all(r["text"] is None for r in stored)  # attributes are not text
    driver.execute_query("MATCH (n) SET n.embedding = [0.5, 0.5], n.embedding_key = 'm:x'")
    snapshot, _ = export_snapshot(driver, progress=False)
    users = snapshot.nodes["user"].set_index("id")
    assert users.loc["u1", "attr_country"] == "NO" and pd.isna(users.loc["u2", "attr_age_band"])
    assert snapshot.nodes["item"].set_index("id").loc["i1", "attr_provider"] == "Columbia"
    assert "attr_country" not in snapshot.nodes["item"].columns


def test_malformed_attribute_column_names_the_file_and_column(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, interactions="user_id,item_id\nu1,i1\n", users="user_id,attr_bad-name\nu1,x\n"
    )
    with pytest.raises(DataValidationError, match=r"users\.csv:1: column '2'.*attr_bad-name"):
        generic_csv.parse(folder)


@pytest.mark.usefixtures("neo4j_env")
def test_bad_row_names_line_and_writes_nothing(driver: Driver, tmp_path: Path) -> None:
    """Through ``ingest csv``: interactions.csv is valid and tag_events.csv, read last, is not,
    so a loader that wrote any file before validating all of them would leave users behind."""
    folder = _folder(tmp_path, interactions="user_id,item_id,weight\nu1,i1,1\nu2,i2,2\n")
    (folder / "tag_events.csv").write_text("user_id,item_id,interest,ts\nu1,i1,noir,yesterday\n")
    code, out = run_json(["ingest", "csv", "--data-dir", str(folder)])
    assert code == 1
    assert out["error"].startswith(f"{folder / 'tag_events.csv'}:2: column '4 (ts)'")
    assert graph_counts(driver)["nodes"] == {"User": 0, "Item": 0, "Interest": 0}


def test_unknown_interest_kind_is_rejected(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        interactions="user_id,item_id\nu,i\n",
        item_interests="item_id,interest,kind\ni,jazz,mood\n",
    )
    with pytest.raises(DataValidationError, match=r"item_interests\.csv:2: .*kind must be one of"):
        generic_csv.parse(folder)


def test_tag_events_are_kept_and_fold_into_interest_edges(driver: Driver, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        interactions="user_id,item_id\nu1,i1\nu2,i1\n",
        tag_events=(
            "user_id,item_id,interest,ts\nu1,i1,Heist,30\nu1,i1,heist,10\nu2,i1,Heist,20\n"
            "u2,i2,Noir,\n"
        ),
    )
    plan = generic_csv.parse(folder)
    write_plan(driver, plan, progress=False)
    counts = graph_counts(driver)
    # one event per (user, item, tag): u1's two spellings of one tag are one event, applied twice
    assert counts["relationships"]["TAGGED"] == 3
    event = driver.execute_query(
        "MATCH (:User {id: 'u1'})-[e:TAGGED {interest: 'heist'}]->(:Item {id: 'i1'}) "
        "RETURN e.ts AS ts, e.count AS count"
    ).records[0]
    assert (event["ts"], event["count"]) == (10, 2)
    folded = driver.execute_query(
        "MATCH (:Item {id: 'i1'})-[h:HAS_INTEREST {source: 'user_tag'}]->(t:Interest) "
        "WHERE t.id = 'heist' "
        "MATCH (:User {id: 'u1'})-[r:INTERESTED_IN {source: 'tagging'}]->(t) "
        "RETURN h.weight AS taggers, r.weight AS applied, r.ts AS first"
    ).records[0]
    assert (folded["taggers"], folded["applied"], folded["first"]) == (2.0, 2.0, 10)
    # loading the same folder again writes nothing (the event's interest is part of its identity)
    again = write_plan(driver, generic_csv.parse(folder), progress=False)
    assert again["written"]["TAGGED"] == {"created": 0, "updated": 0, "unchanged": 3}


def test_bad_tag_event_names_file_and_line(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        interactions="user_id,item_id\nu,i\n",
        tag_events="user_id,item_id,interest,ts\nu,i,jazz,5\nu,i,!!!,6\n",
    )
    with pytest.raises(DataValidationError, match=r"tag_events\.csv:3: .*no letters or digits"):
        generic_csv.parse(folder)
