"""LLM interest tagging on a small real graph: proposals are written as 'llm' edges, catalogue
edges are never touched, and the evaluation reports the baseline beside the model."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from features.cache import EmbeddingCache
from features.encoder import TextEncoder
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from interestgraph.tagging_job import tag_interests

ITEMS = {
    "Space Wars": "science fiction",
    "Galaxy Quest Returns": "science fiction",
    "Robots of Mars": "science fiction",
    "Alien Planet": "science fiction",
    "Laugh Out Loud": "comedy",
    "Funny Business": "comedy",
    "The Joke Club": "comedy",
    "Silly Summer": "comedy",
    "Haunted House": "horror",
    "The Ghost Night": "horror",
    "Zombie Town": "horror",
    "Scream Forest": "horror",
}


def test_proposals_are_llm_edges_and_catalogue_is_untouched(driver: Driver, tmp_path: Path) -> None:
    ids = {title: f"i{n}" for n, title in enumerate(ITEMS)}
    (tmp_path / "interactions.csv").write_text(
        "user_id,item_id\n" + "".join(f"u1,{i}\n" for i in ids.values())
    )
    (tmp_path / "items.csv").write_text(
        "item_id,title\n" + "".join(f"{i},{t}\n" for t, i in ids.items()) + "i99,Moon Rockets\n"
    )
    (tmp_path / "item_interests.csv").write_text(
        "item_id,interest,kind\n" + "".join(f"{ids[t]},{g},genre\n" for t, g in ITEMS.items())
    )
    write_plan(driver, generic_csv.parse(tmp_path), progress=False)
    catalogue = driver.execute_query(
        "MATCH ()-[r:HAS_INTEREST {source: 'catalog'}]->() RETURN count(r) AS n, sum(r.weight) AS w"
    ).records[0]

    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    report = tag_interests(
        driver, TextEncoder(device="cpu"), cache, kind="genre", k=1, holdout=0.25, progress=False
    )
    cache.close()
    assert report["held_out_items"] == 3 and report["labelled_items"] == 12
    assert set(report["evaluation"]) == {
        "most_frequent_baseline",
        "zero_shot",
        "text_neighbours",
        "combined",
    }
    for scores in report["evaluation"].values():
        assert 0.0 <= scores["precision@1"] <= 1.0
    # the unlabelled item about moon rockets gets science fiction from its text
    proposal = driver.execute_query(
        "MATCH (:Item {id: 'i99'})-[r:HAS_INTEREST {source: 'llm'}]->(t) RETURN t.id AS id"
    ).records
    assert [r["id"] for r in proposal] == ["science fiction"]
    after = driver.execute_query(
        "MATCH ()-[r:HAS_INTEREST {source: 'catalog'}]->() RETURN count(r) AS n, sum(r.weight) AS w"
    ).records[0]
    assert (after["n"], after["w"]) == (catalogue["n"], catalogue["w"])
    overlap = driver.execute_query(
        "MATCH (i)-[:HAS_INTEREST {source: 'llm'}]->(t)<-[:HAS_INTEREST {source: 'catalog'}]-(i)"
        " RETURN count(*) AS n"
    ).records[0]["n"]
    assert overlap == 0  # never proposes what the catalogue already says
    assert report["written"]["deleted"] == 0

    # the catalogue now says i99 is science fiction: re-tagging no longer proposes it, and the
    # proposal written before is removed instead of lingering beside the catalogue edge
    with (tmp_path / "item_interests.csv").open("a") as extra:
        extra.write("i99,science fiction,genre\n")
    write_plan(driver, generic_csv.parse(tmp_path), progress=False)
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        again = tag_interests(
            driver,
            TextEncoder(device="cpu"),
            cache,
            kind="genre",
            k=1,
            holdout=0.25,
            progress=False,
        )
    assert again["written"]["deleted"] >= 1
    stale = driver.execute_query(
        "MATCH (:Item {id: 'i99'})-[r:HAS_INTEREST {source: 'llm'}]->() RETURN count(r) AS n"
    ).records[0]["n"]
    assert stale == 0
    llm = driver.execute_query(
        "MATCH ()-[r:HAS_INTEREST {source: 'llm'}]->() RETURN count(r) AS n"
    ).records[0]["n"]
    assert llm == again["written"]["edges"]
