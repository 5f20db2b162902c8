"""A small real graph for training and serving tests: the 150 most active MovieLens users on the
300 most rated movies (their genres and their tagging events), loaded through the generic CSV
loader, embedded with the real MiniLM, and the CLI pointed at it.

Besides MovieLens' own tag events, 60 canary events each put a tag no one else uses
(``canary tag N``) on one rated movie: a canary is visible to the model only if its one event
was counted, which is what the leak tests look for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from neo4j import Driver

from features.cache import EmbeddingCache
from features.encoder import TextEncoder
from graphdb.admin import clear_graph
from graphdb.connection import Neo4jTarget
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from interestgraph.embedding_job import embed_graph

CANARIES = 60


def write_movielens_subset(source: Path, folder: Path, users: int = 150, items: int = 300) -> None:
    ratings = pd.read_csv(source / "ratings.csv")
    movies = pd.read_csv(source / "movies.csv")
    tags = pd.read_csv(source / "tags.csv")
    top_items = ratings["movieId"].value_counts().index[:items]
    ratings = ratings[ratings["movieId"].isin(top_items)]
    top_users = ratings["userId"].value_counts().index[:users]
    ratings = ratings[ratings["userId"].isin(top_users)]
    folder.mkdir(parents=True, exist_ok=True)
    ratings.rename(columns={"userId": "user_id", "movieId": "item_id", "timestamp": "ts"}).to_csv(
        folder / "interactions.csv", index=False
    )
    movies = movies[movies["movieId"].isin(top_items)]
    movies.rename(columns={"movieId": "item_id"})[["item_id", "title"]].to_csv(
        folder / "items.csv", index=False
    )
    genres = movies.assign(interest=movies["genres"].str.split("|")).explode("interest")
    genres = genres[genres["interest"] != "(no genres listed)"]
    genres.assign(kind="genre").rename(columns={"movieId": "item_id"})[
        ["item_id", "interest", "kind"]
    ].to_csv(folder / "item_interests.csv", index=False)
    events = tags[tags["userId"].isin(top_users) & tags["movieId"].isin(top_items)]
    canaries = ratings.sample(CANARIES, random_state=7)
    canaries = canaries.assign(tag=[f"canary tag {k}" for k in range(CANARIES)])
    pd.concat([events, canaries])[["userId", "movieId", "tag", "timestamp"]].rename(
        columns={"userId": "user_id", "movieId": "item_id", "tag": "interest", "timestamp": "ts"}
    ).to_csv(folder / "tag_events.csv", index=False)
    # stated interests (what a new user brings): two genres per user, drawn independently of
    # their ratings, so that no held-out rating shapes them
    rng = np.random.default_rng(3)
    names = sorted(set(genres["interest"]))
    stated = [(u, g) for u in top_users[::3] for g in rng.choice(names, 2, replace=False)]
    pd.DataFrame(stated, columns=["user_id", "interest"]).assign(kind="genre").to_csv(
        folder / "user_interests.csv", index=False
    )


@contextmanager
def small_graph_home(
    driver: Driver, target: Neo4jTarget, datasets_dir: Path, home: Path
) -> Iterator[Path]:
    """The subset loaded (into an emptied graph) and embedded; yields ``home``, an
    interestgraph home the CLI is pointed at while the context lasts."""
    folder = home / "csv"
    write_movielens_subset(datasets_dir / "movielens-small", folder)
    clear_graph(driver)
    write_plan(driver, generic_csv.parse(folder), progress=False)
    with EmbeddingCache(home / "embeddings.sqlite") as cache:
        embed_graph(driver, TextEncoder(device="cpu"), cache, progress=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEO4J_URI", target.uri)
        patch.setenv("NEO4J_USER", target.user)
        patch.setenv("NEO4J_PASSWORD", target.password)
        patch.setenv("INTERESTGRAPH_HOME", str(home))
        yield home
