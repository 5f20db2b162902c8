"""LLM interest recognition: propose interests for an item from the embedding of its text.

Two similarity signals, both from text embeddings only:

- zero-shot: cosine between the item's text and each interest's text
  (``"Animation: a genre."``), which needs no labelled data at all;
- neighbours: the interests of the ``k`` most similar *labelled* items, weighted by similarity,
  which uses the catalogue as examples (a k-NN over text embeddings).

``combined = neighbours + weight * zero_shot``; the weight and the acceptance threshold are
calibrated on labelled items only (never on the items being evaluated). Metrics are computed
from a 0/1 hit matrix over the top-k, as in RecBole.
"""

from __future__ import annotations

import numpy as np


def zero_shot_scores(item_vectors: np.ndarray, interest_vectors: np.ndarray) -> np.ndarray:
    """``[items, interests]`` cosine similarities (inputs are unit vectors)."""
    return item_vectors @ interest_vectors.T


def neighbour_scores(
    item_vectors: np.ndarray,
    reference_vectors: np.ndarray,
    reference_labels: np.ndarray,
    k: int = 20,
    exclude_self: bool = False,
) -> np.ndarray:
    """Similarity-weighted share of the ``k`` nearest reference items that carry each interest.

    ``reference_labels`` is a ``[references, interests]`` 0/1 matrix. With ``exclude_self`` the
    query items are the references themselves (leave-one-out on the labelled set).
    """
    similarity = item_vectors @ reference_vectors.T
    if exclude_self:
        np.fill_diagonal(similarity, -np.inf)
    k = min(k, reference_vectors.shape[0] - int(exclude_self))
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 0, None)
    votes = np.einsum("nk,nkg->ng", weights, reference_labels[nearest].astype(np.float32))
    return votes / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best columns per row, best first."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def precision_recall_at_k(scores: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float]:
    r"""Mean over items with at least one true label.

    .. math:: P@k = \frac{|top_k \cap T|}{k}, \qquad R@k = \frac{|top_k \cap T|}{|T|}
    """
    rows = truth.sum(axis=1) > 0
    hits = np.take_along_axis(truth[rows], top_k(scores[rows], k), axis=1).sum(axis=1)
    return float((hits / k).mean()), float((hits / truth[rows].sum(axis=1)).mean())


def calibrate_threshold(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Score threshold that maximises F1 of the accepted top-k proposals on labelled items."""
    picked = top_k(scores, k)
    candidate_scores = np.take_along_axis(scores, picked, axis=1).ravel()
    correct = np.take_along_axis(truth, picked, axis=1).ravel().astype(bool)
    order = np.argsort(-candidate_scores)
    true_positives = np.cumsum(correct[order])
    precision = true_positives / np.arange(1, len(order) + 1)
    recall = true_positives / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    return float(candidate_scores[order][int(np.argmax(f1))])


def calibrate_weight(
    neighbours: np.ndarray,
    zero_shot: np.ndarray,
    truth: np.ndarray,
    k: int,
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0),
) -> float:
    """The zero-shot weight in ``neighbours + w * zero_shot`` with the best P@k on labelled
    items (ties to the smaller weight)."""
    results = [(precision_recall_at_k(neighbours + w * zero_shot, truth, k)[0], -w) for w in grid]
    return -max(results)[1]
