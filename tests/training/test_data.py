"""User texts behind the features: supplied profiles where they exist, training edges where
they do not (a Parquet null must not reach the text builder as NaN)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphdb.snapshot import Snapshot
from training.data import user_texts


def test_users_without_a_profile_fall_back_to_their_training_edges() -> None:
    nodes = {
        "user": pd.DataFrame({"id": ["u0", "u1"], "profile": ["Loves Krautrock.", np.nan]}),
        "item": pd.DataFrame({"id": ["a", "b"], "name": ["Can", "Neu!"]}),
        "interest": pd.DataFrame({"id": ["t"], "name": ["krautrock"]}),
    }
    targets = {
        "user_item": pd.DataFrame({"src": [0, 1, 1], "dst": [0, 0, 1], "weight": [1.0] * 3}),
        "user_interest": pd.DataFrame({"src": [1], "dst": [0], "weight": [1.0]}),
    }
    # u1's edge to "Neu!" is held out: only the first two user→item rows are training pairs
    pairs = {"user_item": np.array([[0, 1], [0, 0]]), "user_interest": np.array([[1], [0]])}
    texts = user_texts(Snapshot(nodes, {}, {}), targets, pairs, use_profiles=True)
    assert texts[0] == "Loves Krautrock."
    assert "Can" in texts[1] and "krautrock" in texts[1] and "Neu!" not in texts[1]
