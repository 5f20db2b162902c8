"""MovieLens ``ml-latest-small``: users, movies, genres, ratings and free-text tags.

Graph produced:
  (:User {id})            every userId of ratings.csv and tags.csv
  (:Item {id, title, year, genres})                         one per movies.csv row
  (:Interest {kind:'genre'}) <-[:HAS_INTEREST {source:'catalog', weight:1}]- (:Item)
  (:User)-[:INTERACTED {rating, ts, weight = rating / 5}]->(:Item)
  (:Interest {kind:'tag'}) from tags.csv, normalised (case, whitespace, punctuation):
    (:User)-[:TAGGED {interest, ts: first, count}]->(:Item)      one per tagging event
    and, derived from the events (``graphdb.loaders.tag_events``):
    (:User)-[:INTERESTED_IN {source:'tagging', weight: times applied, ts: first use}]->(:Interest)
    (:Item)-[:HAS_INTEREST {source:'user_tag', weight: users who applied it}]->(:Interest)
"""

from __future__ import annotations

import re
from pathlib import Path

from graphdb.errors import DataValidationError
from graphdb.loaders.plan import GraphPlan, NodeSet, RelSet, namespaced
from graphdb.loaders.tables import (
    Column,
    bounded,
    parse_float,
    parse_int,
    parse_text,
    read_rows,
    require_files,
)
from graphdb.loaders.tag_events import TagEvents
from graphdb.schema import Label, RelType

DATASET = "movielens-small"
REQUIRED_FILES = ("movies.csv", "ratings.csv", "tags.csv")
NO_GENRES = "(no genres listed)"
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")


def split_title(raw: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` → ``("Toy Story", 1995)``; titles without a year keep None."""
    match = _YEAR_SUFFIX.search(raw)
    if match is None:
        return raw.strip(), None
    return raw[: match.start()].strip(), int(match.group(1))


def parse(data_dir: Path, namespace: str | None = None) -> GraphPlan:
    """Read and validate the three files into a plan; raises DataValidationError on bad input."""
    require_files(data_dir, DATASET, REQUIRED_FILES)
    plan = GraphPlan(DATASET)
    users = NodeSet(Label.USER)
    items = NodeSet(Label.ITEM)
    catalog = RelSet(RelType.HAS_INTEREST, Label.ITEM, Label.INTEREST, source="catalog")
    movie_ids: set[int] = set()

    movies = data_dir / "movies.csv"
    for _, row in read_rows(
        movies,
        [
            Column("movieId", parse_int),
            Column("title", parse_text),
            Column("genres", parse_text),
        ],
    ):
        title, year = split_title(row["title"])
        genres = [g.strip() for g in row["genres"].split("|") if g.strip() and g != NO_GENRES]
        item_id = namespaced(namespace, row["movieId"])
        movie_ids.add(row["movieId"])
        items.add(item_id, title=title, year=year, genres=genres)
        for genre in genres:
            interest_id = plan.interests.add(genre, "genre")
            if interest_id is not None:
                catalog.add(item_id, interest_id, weight=1.0)

    ratings = data_dir / "ratings.csv"
    interacted = RelSet(RelType.INTERACTED, Label.USER, Label.ITEM)
    for line, row in read_rows(
        ratings,
        [
            Column("userId", parse_int),
            Column("movieId", parse_int),
            Column("rating", bounded(parse_float, 0.5, 5.0)),
            Column("timestamp", parse_int),
        ],
    ):
        if row["movieId"] not in movie_ids:
            raise DataValidationError(
                str(ratings),
                f"movieId {row['movieId']} is not in movies.csv",
                line=line,
                column="2 (movieId)",
            )
        user_id = namespaced(namespace, row["userId"])
        users.add(user_id)
        interacted.add(
            user_id,
            namespaced(namespace, row["movieId"]),
            rating=row["rating"],
            ts=row["timestamp"],
            weight=row["rating"] / 5.0,
        )

    tags = data_dir / "tags.csv"
    events = TagEvents()
    skipped = 0
    for line, row in read_rows(
        tags,
        [
            Column("userId", parse_int),
            Column("movieId", parse_int),
            Column("tag", parse_text),
            Column("timestamp", parse_int),
        ],
    ):
        if row["movieId"] not in movie_ids:
            raise DataValidationError(
                str(tags),
                f"movieId {row['movieId']} is not in movies.csv",
                line=line,
                column="2 (movieId)",
            )
        interest_id = plan.interests.add(row["tag"], "tag")
        if interest_id is None:
            skipped += 1
            continue
        user_id = namespaced(namespace, row["userId"])
        users.add(user_id)
        events.add(user_id, namespaced(namespace, row["movieId"]), interest_id, row["timestamp"])

    plan.nodes = [users, items]
    plan.relationships = [interacted, catalog, *events.relationships()]
    if skipped:
        plan.skipped["tags_empty_after_normalisation"] = skipped
    return plan
