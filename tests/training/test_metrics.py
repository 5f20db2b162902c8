"""Ranking metrics on cases small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from training.choices import MIX_MIN_PAIRS, MIX_MIN_USERS
from training.experiment import can_choose_mix, carried_interests
from training.metrics import RankingTask, evaluate_ranking


def _task(truth: list[tuple[int, int]], exclude: list[tuple[int, int]]) -> RankingTask:
    return RankingTask(
        users=np.array(sorted({u for u, _ in truth})),
        truth=np.array(truth).T,
        exclude=np.array(exclude).T if exclude else np.zeros((2, 0), dtype=np.int64),
        num_candidates=25,
        candidates=None,
        train_degree=np.arange(25, dtype=np.float64)[::-1].copy(),
        user_train_count=np.array([3, 30]),
        num_users=2,
        embeddings=None,
    )


def test_recall_ndcg_mrr_by_hand() -> None:
    # scores: candidate c gets 25 - c, so the ranking is 0, 1, 2, ... for every user
    scores = torch.arange(25, 0, -1, dtype=torch.float).repeat(2, 1)
    # user 0: relevant {1, 22}; candidate 0 is excluded (a training edge)
    # user 1: relevant {0}
    task = _task([(0, 1), (0, 22), (1, 0)], exclude=[(0, 0)])
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    # user 0's ranking after exclusion: 1 (rank 1), 2..., 22 at rank 22 → outside top 20
    assert result["recall@10"] == 0.75  # (1/2 + 1) / 2
    ndcg_user0 = 1.0 / (1 + 1 / math.log2(3))
    assert abs(result["ndcg@20"] - (ndcg_user0 + 1.0) / 2) < 1e-5
    assert result["hit@20"] == 1.0
    assert result["mrr"] == 1.0
    assert result["users"] == 2
    slices = result["slices"]
    assert slices["users_le_5"]["users"] == 1 and slices["users_gt_20"]["users"] == 1
    assert slices["users_le_5"]["recall@20"] == 0.5
    assert sum(slices[f"items_{n}"]["items"] for n in ("head", "torso", "tail")) == 25


def test_mrr_uses_the_full_ranking() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float).unsqueeze(0)
    task = _task([(0, 24)], exclude=[])
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    assert result["recall@20"] == 0.0
    assert abs(result["mrr"] - 1 / 25) < 1e-6
    assert result["auc"] == 0.0  # the relevant candidate scores below every other


def test_slices_count_only_the_candidate_pool() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float).unsqueeze(0)
    task = _task([(0, 3)], exclude=[])
    task.candidates = np.arange(10)
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    assert result["recall@10"] == 1.0
    assert sum(result["slices"][f"items_{n}"]["items"] for n in ("head", "torso", "tail")) == 10


def test_ties_are_broken_pessimistically() -> None:
    # a scorer that ties everything ranks the relevant candidate below all 24 others
    scores = torch.zeros(1, 25)
    task = _task([(0, 7)], exclude=[])
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    assert abs(result["mrr"] - 1 / 25) < 1e-6
    assert result["mrr@10"] == 0.0 and result["mrr@20"] == 0.0
    assert result["auc"] == 0.5


def test_mrr_at_k_cuts_at_k() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float).unsqueeze(0)
    task = _task([(0, 14)], exclude=[])  # rank 15
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    assert result["mrr@10"] == 0.0
    assert abs(result["mrr@20"] - 1 / 15) < 1e-4  # figures are rounded to 5 places


def test_auc_negatives_are_distinct_and_never_relevant_or_excluded() -> None:
    # 25 candidates, 1 relevant, 3 excluded: all 21 eligible negatives are drawn exactly once,
    # so the AUC is exact: the relevant candidate (rank 11) beats the 10 negatives below it
    scores = torch.arange(25, 0, -1, dtype=torch.float).unsqueeze(0)
    task = _task([(0, 10)], exclude=[(0, 0), (0, 1), (0, 24)])
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    eligible_below = sum(1 for c in range(11, 24))  # 11..23, excluded 24 left out
    assert abs(result["auc"] - eligible_below / 21) < 1e-4


def test_interest_expansion_counts_what_the_users_items_do_not_carry() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float).repeat(2, 1)  # ranking 0, 1, 2, ...
    # user 0: held out {1, 3}, its items carry 0-4; user 1: held out {2, 12}, its items carry 2
    task = _task([(0, 1), (0, 3), (1, 2), (1, 12)], exclude=[])
    task.carried = np.array([(0, c) for c in range(5)] + [(1, 2)]).T
    result = evaluate_ranking(task, lambda users: scores[users], torch.device("cpu"))
    # top 10 = 0..9 for both: user 0's items carry 5 of them, user 1's one
    assert abs(result["beyond_items@10"] - (0.5 + 0.9) / 2) < 1e-6
    # only user 1 has a held-out interest its items do not carry (12), outside its top 10
    assert result["beyond_items_recall@10"] == 0.0
    plain = evaluate_ranking(
        _task([(0, 1)], exclude=[]), lambda users: scores[users], torch.device("cpu")
    )
    assert "beyond_items@10" not in plain


def test_carried_interests_join_users_items_to_their_interests() -> None:
    user_items = np.array([[0, 0, 1], [10, 11, 11]])
    item_interests = pd.DataFrame({"src": [10, 11, 11, 12], "dst": [5, 5, 6, 7]})
    pairs = {tuple(p) for p in carried_interests(user_items, item_interests).T.tolist()}
    assert pairs == {(0, 5), (0, 6), (1, 5), (1, 6)}


def test_a_mix_is_chosen_on_many_users_or_on_many_held_out_pairs() -> None:
    def task(users: int, pairs_each: int) -> RankingTask:
        return _task([(u, c) for u in range(users) for c in range(pairs_each)], [])

    few_users = MIX_MIN_USERS // 3
    # new users with a long held-out history each measure a ranking finely enough
    assert can_choose_mix(task(few_users, -(-MIX_MIN_PAIRS // few_users)))
    # a few tags each on as few users do not: the model alone stays
    assert not can_choose_mix(task(few_users, 4))
    assert can_choose_mix(task(MIX_MIN_USERS, 1))
    assert can_choose_mix(task(few_users, 4), min_users=few_users)
