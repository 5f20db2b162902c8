"""The real packaged MiniLM: unit vectors, order kept despite length sorting, cache hits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.cache import EmbeddingCache, embed_with_cache
from features.encoder import TextEncoder

TEXTS = ["science fiction films", "sci-fi movies", "a long text " * 30, "cooking pasta", ""]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(device="cpu", batch_size=2)


def test_vectors_are_unit_length_and_in_input_order(encoder: TextEncoder) -> None:
    vectors = encoder.encode(TEXTS, progress=False)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([encoder.encode([t], progress=False)[0] for t in TEXTS])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)  # batching/padding is invisible
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.6 > similarity[0, 3]  # synonyms close, unrelated far


def test_cache_encodes_only_new_texts(encoder: TextEncoder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    calls: list[int] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        return encoder.encode(batch, progress=False)

    first, computed = embed_with_cache(TEXTS[:3], encoder.model_id, 384, encode, cache)
    assert computed == 3
    second, computed = embed_with_cache(TEXTS, encoder.model_id, 384, encode, cache)
    assert computed == 2 and calls == [3, 2]
    np.testing.assert_array_equal(first, second[:3])
    _, computed = embed_with_cache(TEXTS, "another-model", 384, encode, cache)
    assert computed == 5  # the key includes the model
    cache.close()


def test_a_failed_run_keeps_every_committed_chunk(encoder: TextEncoder, tmp_path: Path) -> None:
    """The encoder dying on the third chunk loses only that chunk: a second cache connection
    (as a re-run would open) already holds the first two, and the re-run encodes the rest."""
    calls: list[int] = []

    def dies_on_third_chunk(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return encoder.encode(batch, progress=False)

    with EmbeddingCache(tmp_path / "cache.sqlite") as cache, pytest.raises(KeyboardInterrupt):
        embed_with_cache(TEXTS, encoder.model_id, 384, dies_on_third_chunk, cache, commit_every=2)
    with EmbeddingCache(tmp_path / "cache.sqlite") as rerun:
        _, computed = embed_with_cache(TEXTS, encoder.model_id, 384, encoder.encode, rerun)
    assert computed == 1
