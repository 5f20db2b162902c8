"""Tagging metrics and calibration on hand-made matrices (expected values as arithmetic)."""

from __future__ import annotations

import numpy as np

from features.tagging import (
    calibrate_threshold,
    neighbour_scores,
    precision_recall_at_k,
    top_k,
)


def test_top_k_is_best_first() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2]]


def test_precision_recall_at_k_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.9, 0.3], [0.5, 0.5, 0.5, 0.5]])
    truth = np.array([[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]])
    precision, recall = precision_recall_at_k(scores, truth, k=2)
    # item 0: top2 = {0, 1}, 1 hit of 2 true; item 1: top2 = {2, 3}, 1 hit of 1; item 2 skipped
    assert np.isclose(precision, (1 / 2 + 1 / 2) / 2)
    assert np.isclose(recall, (1 / 2 + 1 / 1) / 2)


def test_neighbours_vote_with_similarity() -> None:
    refs = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = np.array([[1, 0], [0, 1], [1, 1]])
    votes = neighbour_scores(np.array([[1.0, 0.0]]), refs, labels, k=2)
    # nearest two: ref0 (sim 1.0, label 0) and ref2 (sim 0.6, labels 0 and 1)
    assert np.allclose(votes, [[(1.0 + 0.6) / 1.6, 0.6 / 1.6]])


def test_threshold_separates_right_from_wrong() -> None:
    scores = np.array([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7]])
    truth = np.array([[1, 0], [1, 0], [0, 1]])
    assert calibrate_threshold(scores, truth, k=1) == 0.7
