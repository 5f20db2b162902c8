"""Dataset names accepted by ``interestgraph ingest`` and the parser behind each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from graphdb.loaders import generic_csv, lastfm, movielens
from graphdb.loaders.plan import GraphPlan

Parser = Callable[[Path, "str | None"], GraphPlan]

DATASETS: dict[str, Parser] = {
    movielens.DATASET: movielens.parse,
    lastfm.DATASET: lastfm.parse,
    generic_csv.DATASET: generic_csv.parse,
}
