"""Helpers every command shares: the driver context, domain errors turned into one clear
message, the encoder and cache, the --json flag. Light imports only: torch and transformers
load inside the commands that need them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from neo4j import Driver
from neo4j.exceptions import DriverError, Neo4jError

from features.cache import EmbeddingCache
from features.encoder import EncoderError, TextEncoder
from features.encoder import load_encoder as open_encoder
from graphdb.connection import Neo4jTarget, open_driver, resolve_target
from graphdb.errors import GraphDBError
from interestgraph.output import fail
from interestgraph.settings import Settings
from serving.lookups import LookupFailed
from training.errors import JobError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def neo4j_target(settings: Settings) -> Neo4jTarget:
    return resolve_target(
        settings.home,
        settings.neo4j_uri,
        settings.neo4j_user,
        settings.neo4j_password,
        settings.neo4j_database,
    )


def neo4j_failure(error: Neo4jError | DriverError) -> str:
    """One line for a server error (its code) or a lost connection (what to do next)."""
    if isinstance(error, Neo4jError):
        return f"Neo4j: {error.code}: {error.message}"
    return (
        f"Neo4j connection lost ({type(error).__name__}: {error}); check it with "
        "`interestgraph db status`, then run the command again: every job resumes or "
        "rewrites what it had written, nothing is doubled"
    )


@contextmanager
def graph(as_json: bool) -> Iterator[tuple[Driver, str | None]]:
    """A driver to the configured Neo4j; graph-layer and driver errors (a server error, a
    Neo4j that died mid-command) become one clear message."""
    try:
        target = neo4j_target(Settings())
        driver = open_driver(target)
    except GraphDBError as e:
        raise fail(str(e), as_json) from None
    try:
        with reported(as_json):
            yield driver, target.database
    finally:
        driver.close()


@contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """Domain errors of the layers below (a job, the encoder, the graph, the driver) → one
    clear message."""
    try:
        yield
    except (JobError, EncoderError, GraphDBError, LookupFailed) as e:
        raise fail(str(e), as_json) from None
    except (Neo4jError, DriverError) as e:
        raise fail(neo4j_failure(e), as_json) from None


def load_encoder(model: str, device: str, batch_size: int, as_json: bool) -> TextEncoder:
    """Load the text encoder; a missing model or device becomes one clear message."""
    with reported(as_json):
        return open_encoder(model, device, batch_size)


def embedding_cache(settings: Settings) -> EmbeddingCache:
    """The embedding cache shared by every command of one interestgraph home."""
    return EmbeddingCache(settings.home / "embeddings.sqlite")
