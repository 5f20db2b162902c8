"""movielens-small into a real Neo4j: counts equal the files', re-runs change nothing, bad input
writes nothing. Expected figures are computed from the files with pandas, not from our parser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from neo4j import Driver

from graphdb.errors import DataValidationError
from graphdb.loaders import movielens
from graphdb.loaders.plan import normalize_interest, write_plan
from graphdb.stats import graph_counts
from tests.cli_json import run_json


def _ingest(driver: Driver, folder: Path) -> dict:
    return write_plan(driver, movielens.parse(folder), progress=False)


@pytest.fixture()
def loaded(driver: Driver, datasets_dir: Path) -> Driver:
    _ingest(driver, datasets_dir / "movielens-small")
    return driver


def test_counts_match_the_source_files(loaded: Driver, datasets_dir: Path) -> None:
    folder = datasets_dir / "movielens-small"
    movies = pd.read_csv(folder / "movies.csv")
    tags = pd.read_csv(folder / "tags.csv")
    tags["interest"] = tags["tag"].map(normalize_interest)
    genres = {g for gs in movies["genres"] for g in gs.split("|") if g != movielens.NO_GENRES}
    genre_edges = sum(
        len([g for g in gs.split("|") if g != movielens.NO_GENRES]) for gs in movies["genres"]
    )

    counts = graph_counts(loaded)
    assert counts["nodes"]["User"] == 610
    assert counts["nodes"]["Item"] == 9742
    assert counts["relationships"]["INTERACTED"] == 100836
    by_source = counts["relationships_by_source"]
    assert by_source["HAS_INTEREST:catalog"] == genre_edges
    assert by_source["INTERESTED_IN:tagging"] == len(tags.groupby(["userId", "interest"]))
    assert by_source["HAS_INTEREST:user_tag"] == len(tags.groupby(["movieId", "interest"]))
    interest_ids = {normalize_interest(g) for g in genres} | set(tags["interest"])
    assert counts["nodes"]["Interest"] == len(interest_ids)
    # Every tag application is kept as weight, nothing is lost to normalisation.
    total = loaded.execute_query(
        "MATCH ()-[r:INTERESTED_IN {source: 'tagging'}]->() RETURN sum(r.weight) AS n"
    ).records[0]["n"]
    assert total == len(tags)
    # tagging events are kept, one per (user, movie, tag), with the first time it was applied
    events = tags.groupby(["userId", "movieId", "interest"])["timestamp"].min()
    assert counts["relationships"]["TAGGED"] == len(events)
    (user, movie, interest), first = next(iter(events.items()))
    stored = loaded.execute_query(
        "MATCH (:User {id: $u})-[e:TAGGED {interest: $t}]->(:Item {id: $i}) RETURN e.ts AS ts",
        u=str(user),
        i=str(movie),
        t=interest,
    ).records
    assert [r["ts"] for r in stored] == [first]


def test_properties_are_parsed(loaded: Driver) -> None:
    record = loaded.execute_query(
        "MATCH (u:User {id: '1'})-[r:INTERACTED]->(i:Item {id: '1'}) "
        "RETURN i.title AS title, i.year AS year, i.genres AS genres, r.rating AS rating, "
        "r.ts AS ts, r.weight AS weight"
    ).records[0]
    assert record["title"] == "Toy Story"
    assert record["year"] == 1995
    assert record["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert (record["rating"], record["ts"], record["weight"]) == (4.0, 964982703, 0.8)
    aliases = loaded.execute_query(
        "MATCH (i:Interest {id: 'sci fi'}) RETURN i.kind AS kind, i.aliases AS aliases"
    ).records[0]
    assert aliases["kind"] == "genre"
    assert "Sci-Fi" in aliases["aliases"]


def test_second_ingest_changes_nothing(loaded: Driver, datasets_dir: Path) -> None:
    before = graph_counts(loaded)
    report = _ingest(loaded, datasets_dir / "movielens-small")
    assert graph_counts(loaded) == before
    assert report["written"]["INTERACTED"] == {"created": 0, "updated": 0, "unchanged": 100836}


@pytest.mark.usefixtures("neo4j_env")
def test_corrupt_ratings_fail_with_line_and_leave_graph_unchanged(
    loaded: Driver, datasets_dir: Path, tmp_path: Path
) -> None:
    """Through the command a user runs: movies.csv is valid and read first, so a loader that
    wrote before validating everything would add the namespaced movies and change the counts."""
    bad = tmp_path / "ml"
    shutil.copytree(datasets_dir / "movielens-small", bad)
    lines = (bad / "ratings.csv").read_text().splitlines()
    lines[5000] = "7,50,four stars,1100000000"
    (bad / "ratings.csv").write_text("\n".join(lines) + "\n")
    before = graph_counts(loaded)
    code, out = run_json(
        ["ingest", "movielens-small", "--data-dir", str(bad), "--namespace", "bad"]
    )
    assert code == 1
    assert out["error"].startswith(f"{bad / 'ratings.csv'}:5001: column '3 (rating)'")
    assert graph_counts(loaded) == before


def test_unknown_movie_in_ratings_is_rejected(datasets_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "ml"
    shutil.copytree(datasets_dir / "movielens-small", bad)
    with open(bad / "ratings.csv", "a") as f:
        f.write("1,99999999,4.0,1100000000\n")
    with pytest.raises(DataValidationError, match=r"ratings\.csv:100838: .*99999999 is not in"):
        movielens.parse(bad)
