"""Last.fm HetRec into a real Neo4j: users, artists, listens, tag assignments and friendships."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from neo4j import Driver

from graphdb.loaders import lastfm
from graphdb.loaders.plan import normalize_interest, write_plan
from graphdb.stats import graph_counts


def test_counts_match_the_source_files(driver: Driver, datasets_dir: Path) -> None:
    folder = datasets_dir / "lastfm-hetrec-2k"
    report = write_plan(driver, lastfm.parse(folder), progress=False)
    artists = pd.read_csv(folder / "artists.dat", sep="\t")
    tags = pd.read_csv(folder / "tags.dat", sep="\t", encoding="latin-1")
    assigned = pd.read_csv(folder / "user_taggedartists.dat", sep="\t").merge(tags, on="tagID")
    assigned["interest"] = assigned["tagValue"].map(normalize_interest)
    known = assigned[assigned["artistID"].isin(artists["id"])]

    counts = graph_counts(driver)
    assert counts["nodes"]["User"] == 1892
    assert counts["nodes"]["Item"] == 17632
    assert counts["relationships"]["INTERACTED"] == 92834
    assert counts["relationships"]["FRIEND"] == 25434
    assert counts["nodes"]["Interest"] == assigned["interest"].nunique()
    by_source = counts["relationships_by_source"]
    assert by_source["INTERESTED_IN:tagging"] == len(assigned.groupby(["userID", "interest"]))
    assert by_source["HAS_INTEREST:user_tag"] == len(known.groupby(["artistID", "interest"]))
    weights = driver.execute_query(
        "MATCH ()-[r:INTERESTED_IN]->() WITH sum(r.weight) AS user_side "
        "MATCH ()-[h:HAS_INTEREST]->() RETURN user_side, sum(h.weight) AS item_side"
    ).records[0]
    assert weights["user_side"] == 186479  # every tag assignment of the file
    assert weights["item_side"] == len(known.drop_duplicates(["userID", "artistID", "interest"]))
    assert report["written"]["FRIEND"]["created"] == 25434
    # every assignment of a catalogue artist is kept as an event, one per (user, artist, tag)
    events = known.drop_duplicates(["userID", "artistID", "interest"])
    assert counts["relationships"]["TAGGED"] == len(events)
    # and the folded item edges are exactly what the events give
    # (compared here, not joined in Cypher: a join planned on stale statistics of a freshly
    # loaded graph can run for minutes)
    users_per_tag = {
        (r["item"], r["tag"]): r["users"]
        for r in driver.execute_query(
            "MATCH (:User)-[e:TAGGED]->(i:Item) "
            "RETURN i.id AS item, e.interest AS tag, count(*) AS users"
        ).records
    }
    item_edges = {
        (r["item"], r["tag"]): r["weight"]
        for r in driver.execute_query(
            "MATCH (i:Item)-[h:HAS_INTEREST {source: 'user_tag'}]->(t:Interest) "
            "RETURN i.id AS item, t.id AS tag, h.weight AS weight"
        ).records
    }
    assert item_edges == users_per_tag
    assert len(item_edges) == by_source["HAS_INTEREST:user_tag"]
    skipped = lastfm.parse(folder).skipped
    assert skipped["item_tag_edges_to_artists_missing_from_artists_dat"] == 1538
    non_ascii = sorted({t for t in assigned["tagValue"] if not t.isascii()})
    stored = driver.execute_query(
        "UNWIND $tags AS tag MATCH (i:Interest) WHERE tag IN i.aliases RETURN collect(tag) AS t",
        tags=non_ascii,
    ).records[0]["t"]
    assert non_ascii and sorted(stored) == non_ascii  # Latin-1 decoded, not mangled
