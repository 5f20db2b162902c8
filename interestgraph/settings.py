"""Settings read once per command from the environment and passed down explicitly (no globals)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where state lives and which Neo4j to use.

    ``INTERESTGRAPH_HOME`` (default ``~/.interestgraph``) holds the local Neo4j's data, its state
    file and the launcher build. ``NEO4J_URI`` / ``NEO4J_USER`` / ``NEO4J_PASSWORD`` /
    ``NEO4J_DATABASE`` point every command at another Neo4j instead of the local one.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    home: Path = Field(
        default_factory=lambda: Path.home() / ".interestgraph",
        validation_alias=AliasChoices("INTERESTGRAPH_HOME"),
    )
    datasets_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("INTERESTGRAPH_DATASETS")
    )
    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: str = Field(default="", validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_DATABASE")
    )
