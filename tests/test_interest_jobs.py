"""Canonicalisation and the interest graph against the real Neo4j: merges lose no edge and keep
every spelling; RELATED_TO converges on re-runs."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from features.cache import EmbeddingCache
from features.encoder import TextEncoder
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from graphdb.stats import graph_counts
from interestgraph.interest_jobs import canonicalize_interests, relate_interests


def _load(driver: Driver, folder: Path) -> None:
    (folder / "interactions.csv").write_text("user_id,item_id\nu1,a\nu2,b\nu3,c\n")
    (folder / "item_interests.csv").write_text(
        "item_id,interest,kind,weight\n"
        "a,Sci-Fi,genre,1\na,space,tag,2\nb,scifi,tag,3\nb,space,tag,1\nc,science fiction,tag,4\n"
        "c,space,tag,1\na,indie rock,tag,1\nb,indie pop,tag,1\nc,horror,tag,1\n"
    )
    (folder / "user_interests.csv").write_text(
        "user_id,interest,kind,weight\nu1,sci fi,tag,5\nu2,Science Fiction,tag,1\nu3,horror,tag,2\n"
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)


def test_canonicalize_merges_synonyms_and_keeps_every_edge(driver: Driver, tmp_path: Path) -> None:
    _load(driver, tmp_path)
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        report = canonicalize_interests(driver, TextEncoder(device="cpu"), cache, 0.75, True)
    assert report["merged"] == 2  # scifi and science fiction into the genre sci fi
    assert report["edges_after"] == report["edges_before"]
    node = driver.execute_query(
        "MATCH (t:Interest {id: 'sci fi'}) "
        "RETURN t.kind AS kind, t.aliases AS aliases, COUNT { (t)<-[:HAS_INTEREST]-() } AS items, "
        "COUNT { (t)<-[:INTERESTED_IN]-() } AS users"
    ).records[0]
    assert node["kind"] == "genre" and node["items"] == 3 and node["users"] == 2
    assert {"Sci-Fi", "scifi", "science fiction", "Science Fiction"} <= set(node["aliases"])
    remaining = {
        r["id"] for r in driver.execute_query("MATCH (t:Interest) RETURN t.id AS id").records
    }
    assert {"indie rock", "indie pop", "horror", "space"} <= remaining
    assert not {"scifi", "science fiction"} & remaining


DUPLICATE_EDGES = """
MATCH (s)-[r:HAS_INTEREST|INTERESTED_IN|TAGGED]->(t)
WITH s, t, type(r) AS type, coalesce(r.source, '') AS source, coalesce(r.interest, '') AS tag,
     count(r) AS n
WHERE n > 1
RETURN count(*) AS pairs
"""


def test_canonicalize_collapses_coinciding_edges_and_survives_reingest(
    driver: Driver, tmp_path: Path
) -> None:
    """Two spellings on the same item or user become one edge per (nodes, source) with the
    weights added; re-ingesting the same files afterwards changes no count and writes nothing."""
    _load(driver, tmp_path)
    (tmp_path / "item_interests.csv").write_text(
        (tmp_path / "item_interests.csv").read_text() + "a,scifi,tag,2\n"
    )
    (tmp_path / "tag_events.csv").write_text(
        "user_id,item_id,interest,ts\n"
        "u1,a,scifi,10\nu1,a,science fiction,5\nu1,a,scifi,20\nu2,a,Sci-Fi,7\nu2,b,horror,8\n"
    )
    write_plan(driver, generic_csv.parse(tmp_path), progress=False)
    assert driver.execute_query(DUPLICATE_EDGES).records[0]["pairs"] == 0
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        report = canonicalize_interests(driver, TextEncoder(device="cpu"), cache, 0.75, True)
    assert report["collapsed_edges"] > 0
    assert driver.execute_query(DUPLICATE_EDGES).records[0]["pairs"] == 0
    for rel_type, before in report["edges_before"].items():
        assert report["edges_after"][rel_type]["weight"] == before["weight"]
    catalog = driver.execute_query(
        "MATCH (:Item {id: 'a'})-[r:HAS_INTEREST {source: 'catalog'}]->(:Interest {id: 'sci fi'}) "
        "RETURN r.weight AS w"
    ).records
    assert [r["w"] for r in catalog] == [3.0]  # Sci-Fi (1) + scifi (2)
    event = driver.execute_query(
        "MATCH (:User {id: 'u1'})-[e:TAGGED {interest: 'sci fi'}]->(:Item {id: 'a'}) "
        "RETURN e.count AS n, e.ts AS ts"
    ).records
    assert [(r["n"], r["ts"]) for r in event] == [(3, 5)]
    counts = graph_counts(driver)
    again = write_plan(driver, generic_csv.parse(tmp_path), progress=False)
    assert graph_counts(driver) == counts
    assert again["interests_canonicalised"] == 2
    changed = {
        name: w
        for name, w in again["written"].items()
        if isinstance(w, dict) and (w["created"] or w["updated"])
    }
    assert changed == {}


def test_relate_interests_builds_and_converges(driver: Driver, tmp_path: Path) -> None:
    _load(driver, tmp_path)
    first = relate_interests(driver, top_n=3, min_count=1, min_similarity=0.99)
    assert first["cooccurrence_edges"] > 0
    pair = driver.execute_query(
        "MATCH (:Interest {id: 'space'})-[r:RELATED_TO {source: 'cooccurrence'}]->"
        "(:Interest {id: 'scifi'}) RETURN r.weight AS w, r.count AS n"
    ).records[0]
    # space is on items a, b, c; scifi only on b: Jaccard 1 / 3
    assert pair["n"] == 1 and abs(pair["w"] - 1 / 3) < 1e-5
    again = relate_interests(driver, top_n=3, min_count=1, min_similarity=0.99)
    assert again["deleted_stale"] == 0
    assert sum(v["created"] for v in again["written"].values()) == 0
    fewer = relate_interests(driver, top_n=1, min_count=1, min_similarity=0.99)
    assert fewer["deleted_stale"] > 0
    count = driver.execute_query(
        "MATCH ()-[r:RELATED_TO {source: 'cooccurrence'}]->() RETURN count(r) AS n"
    ).records[0]["n"]
    assert count == fewer["cooccurrence_edges"]
