"""The synthetic power-law snapshot behind the scale benchmark and the distributed tests:
deterministic, readable as an ordinary snapshot, and shaped like the real catalogues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphdb.snapshot import read_snapshot, write_snapshot
from graphdb.synthetic import SyntheticShape, synthetic_snapshot


def test_same_shape_same_bytes_and_a_valid_snapshot(tmp_path: Path) -> None:
    shape = SyntheticShape(users=2_000, items=1_000, seed=5)
    first = write_snapshot(synthetic_snapshot(shape), tmp_path / "a")
    again = write_snapshot(synthetic_snapshot(shape), tmp_path / "b")
    other = write_snapshot(synthetic_snapshot(SyntheticShape(2_000, 1_000, seed=6)), tmp_path / "c")
    assert first["content_hash"] == again["content_hash"] != other["content_hash"]
    snapshot = read_snapshot(tmp_path / "a")  # hash-checked like an exported one
    assert snapshot.num_nodes("user") == 2_000 and snapshot.num_nodes("interest") == 50
    assert np.allclose(np.linalg.norm(snapshot.embeddings["item"], axis=1), 1.0, atol=1e-5)


def test_power_law_catalogue_and_consistent_tag_events() -> None:
    snapshot = synthetic_snapshot(SyntheticShape(users=5_000, items=2_000, seed=1))
    interactions = snapshot.edges["interacted"]
    assert not interactions.duplicated(["src", "dst"]).any()
    per_user = interactions.groupby("src").size()
    assert per_user.min() >= 1 and per_user.max() > 5 * per_user.median()  # heavy users
    popularity = interactions.groupby("dst").size().sort_values(ascending=False)
    head = popularity.iloc[: len(popularity) // 100].sum() / popularity.sum()
    assert head > 0.05  # the top 1% of items hold far more than 1% of the interactions
    catalogue = snapshot.edges["has_interest"]
    per_item = catalogue[catalogue["source"] == "catalog"].groupby("src").size()
    assert len(per_item) == 2_000 and per_item.between(1, 3).all()
    events = snapshot.tag_events
    tagged = set(zip(events["user"], events["item"], strict=True))
    assert tagged <= set(zip(interactions["src"], interactions["dst"], strict=True))
    item_interests = set(zip(catalogue["src"], catalogue["dst"], strict=True))
    assert set(zip(events["item"], events["interest"], strict=True)) <= item_interests


def test_too_small_a_graph_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 users"):
        synthetic_snapshot(SyntheticShape(users=1, items=10))
