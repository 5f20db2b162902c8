"""Chunked top-K: the same answer as a dense ranking, known links never returned, any chunk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.scoring import known_links, top_k


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_top_k_matches_dense_ranking_without_known_links(chunk: int) -> None:
    generator = torch.Generator().manual_seed(0)
    users, items = torch.randn(23, 8, generator=generator), torch.randn(40, 8, generator=generator)
    rng = np.random.default_rng(0)
    pairs = np.stack([rng.integers(0, 23, 200), rng.integers(0, 40, 200)])
    known = known_links(pairs, 23)
    blocks = list(
        top_k(
            lambda rows: users[rows] @ items.T,
            np.arange(23),
            40,
            5,
            known,
            torch.device("cpu"),
            chunk,
        )
    )
    found = np.concatenate([b.items for b in blocks])
    dense = (users @ items.T).numpy()
    dense[pairs[0], pairs[1]] = -np.inf
    expected = np.argsort(-dense, axis=1, kind="stable")[:, :5]
    assert np.array_equal(np.sort(found, axis=1), np.sort(expected, axis=1))
    known_set = set(zip(pairs[0], pairs[1], strict=True))
    assert not any((u, i) in known_set for u in range(23) for i in found[u])
