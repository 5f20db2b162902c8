"""The fairness report's arithmetic: Gini, groups, and the popularity penalty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.fairness import activity_groups, as_labels, gini, popularity_penalty


def test_gini_is_zero_for_equal_exposure_and_near_one_for_one_winner() -> None:
    assert gini(np.array([3, 3, 3, 3])) == 0.0
    assert gini(np.zeros(5)) == 0.0
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n - 1) / n
    assert 0 < gini(np.array([1, 2, 3, 4])) < gini(np.array([0, 0, 1, 9]))


def test_groups_from_activity_and_attribute_values() -> None:
    assert list(activity_groups(np.array([0, 5, 6, 20, 21]))) == [
        "users_le_5",
        "users_le_5",
        "users_6_20",
        "users_6_20",
        "users_gt_20",
    ]
    assert list(as_labels([1, None, float("nan"), "x"])) == ["1", None, None, "x"]


def test_popularity_penalty_pushes_popular_candidates_down() -> None:
    degree = np.array([100.0, 10.0, 1.0, 0.0])
    flat = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 3.0, 2.0, float("-inf")]])
    plain = popularity_penalty(lambda users: flat[users], degree, 0.0)
    penalised = popularity_penalty(lambda users: flat[users], degree, 1.0)
    users = torch.tensor([0, 1])
    assert torch.equal(plain(users), flat)
    scores = penalised(users)
    assert scores[0].argsort(descending=True).tolist() == [3, 2, 1, 0]  # ties → least popular
    assert torch.isinf(scores[1, 3])  # an excluded candidate stays excluded
