"""A small real graph for training tests: the 150 most active MovieLens users on the 300 most
rated movies (their genres and tags), loaded through the generic CSV loader, embedded with the
real MiniLM, and the CLI pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    user_tags = tags[tags["userId"].isin(top_users)]
    # users' genre interests: the genres of the movies they rated 4.5 or more (explicit taste)
    liked = ratings[ratings["rating"] >= 4.5].merge(
        genres.rename(columns={"movieId": "item_id_"}), left_on="movieId", right_on="item_id_"
    )
    interests = pd.concat(
        [
            user_tags.rename(columns={"userId": "user_id", "tag": "interest"}).assign(kind="tag"),
            liked.rename(columns={"userId": "user_id"}).assign(kind="genre"),
        ]
    )[["user_id", "interest", "kind"]].drop_duplicates()
    interests.to_csv(folder / "user_interests.csv", index=False)


@pytest.fixture(scope="module")
def small_graph(
    session_driver: Driver, target: Neo4jTarget, datasets_dir: Path, tmp_path_factory
) -> Iterator[Path]:
    """The subset loaded and embedded; yields an interestgraph home the CLI is pointed at."""
    home = tmp_path_factory.mktemp("train-home")
    folder = home / "csv"
    write_movielens_subset(datasets_dir / "movielens-small", folder)
    clear_graph(session_driver)
    write_plan(session_driver, generic_csv.parse(folder), progress=False)
    with EmbeddingCache(home / "embeddings.sqlite") as cache:
        embed_graph(session_driver, TextEncoder(device="cpu"), cache, progress=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEO4J_URI", target.uri)
        patch.setenv("NEO4J_USER", target.user)
        patch.setenv("NEO4J_PASSWORD", target.password)
        patch.setenv("INTERESTGRAPH_HOME", str(home))
        yield home
