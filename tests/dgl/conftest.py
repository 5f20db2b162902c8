"""The DGL backend's tests run in DGL's own environment (``make test-dgl``), on movielens-small
loaded, embedded, exported and split by the main environment (``tests/dgl/run.sh``), whose home
``INTERESTGRAPH_DGL_HOME`` names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def dgl_home() -> Path:
    """The prepared home: ``snapshot/`` and an embedding cache warm for seeds 0–2."""
    value = os.environ.get("INTERESTGRAPH_DGL_HOME")
    if not value or not (Path(value) / "snapshot" / "manifest.json").exists():
        pytest.fail(
            "INTERESTGRAPH_DGL_HOME must name a home with movielens-small's snapshot and a warm "
            "embedding cache: run these tests with `make test-dgl` (tests/dgl/run.sh)"
        )
    return Path(value)
