"""Full-ranking metrics: every candidate the user has not met in training is ranked.

Per user (averaged over users with at least one held-out edge): Recall, NDCG and Hit at each
K, MRR (reciprocal rank of the first relevant candidate in the full ranking) and MRR@K (the same,
0 past rank K), both with ties broken pessimistically (a relevant candidate ranks below every
non-relevant one with the same score, so a scorer that ties everything gets no credit), and AUC
against up to 100 non-relevant candidates sampled without replacement. Over the top-20 lists:
catalogue coverage, novelty (mean self-information ``-log2(popularity / users)`` of recommended
candidates) and intra-list diversity (mean pairwise cosine distance of their LLM embeddings).
``slices`` repeat Recall@20 and NDCG@20 for users grouped by training-interaction count and for
candidates grouped by popularity (head = most popular candidates holding 50% of training edges,
torso = next 30%, tail = the rest, untouched candidates included).

Interest expansion (a task with ``carried``: the interests each user's training items carry):
``beyond_items@10``, the share of the top 10 that none of the user's items carries (what the
list adds to what the items already say), and ``beyond_items_recall@10``, Recall@10 over the
held-out interests none of the user's items carries (users with at least one), where the
"interests of the user's items" baseline scores nothing by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

KS = (10, 20)
AUC_NEGATIVES = 100
USER_SLICES = (("users_le_5", 0, 5), ("users_6_20", 6, 20), ("users_gt_20", 21, None))
ITEM_SLICES = ("head", "torso", "tail")

ScoreFn = Callable[[Tensor], Tensor]


@dataclass
class RankingTask:
    """What to rank for one target and part: users, their truth and exclusions as edge lists."""

    users: np.ndarray  # users with held-out edges, sorted
    truth: np.ndarray  # [2, T] (user, candidate) held-out pairs
    exclude: np.ndarray  # [2, X] pairs never recommended (training and, for test, validation)
    num_candidates: int
    candidates: np.ndarray | None  # restrict ranking to these (None = all)
    train_degree: np.ndarray  # per candidate, for novelty and popularity slices
    user_train_count: np.ndarray  # per user
    num_users: int
    embeddings: np.ndarray | None  # candidate LLM embeddings, for diversity
    carried: np.ndarray | None = None  # [2, C] (user, candidate) pairs the user's items carry


@dataclass
class Ranked:
    """One ranking pass: per-user metric values (in ``task.users`` order) and top lists."""

    values: dict[str, Tensor]
    tops: Tensor  # [users, max(KS)] candidate indices, best first


def rank_users(
    task: RankingTask,
    score: ScoreFn,
    device: torch.device,
    seed: int = 0,
    chunk: int = 512,
    slices: bool = True,
) -> Ranked:
    """Rank every candidate for every user of ``task`` (a non-empty one) and score the lists;
    what :func:`evaluate_ranking` averages and the fairness report groups."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    truth_rows = _group(task.truth, task.users)
    exclude_rows = _group(task.exclude, task.users)
    carried_rows = _group(task.carried, task.users) if task.carried is not None else None
    allowed = torch.ones(task.num_candidates, dtype=torch.bool, device=device)
    if task.candidates is not None:
        allowed[:] = False
        allowed[torch.from_numpy(task.candidates).to(device)] = True
    item_slice = item_slices(task.train_degree).to(device)
    kmax = max(KS)
    per_user: dict[str, list[Tensor]] = {}
    top_lists: list[Tensor] = []
    for start in range(0, len(task.users), chunk):
        users = task.users[start : start + chunk]
        scores = score(torch.from_numpy(users).to(device)).float()
        truth = _dense(truth_rows, users, task.num_candidates, device) & allowed
        excluded = _dense(exclude_rows, users, task.num_candidates, device) | ~allowed
        scores = scores.masked_fill(excluded & ~truth, float("-inf"))
        top = scores.topk(min(kmax, scores.shape[1]), dim=1).indices
        top_lists.append(top)
        hits = truth.gather(1, top).float()
        n_truth = truth.sum(1).float()
        for k in KS:
            _append(per_user, f"recall@{k}", hits[:, :k].sum(1) / n_truth)
            _append(per_user, f"ndcg@{k}", _ndcg(hits[:, :k], n_truth))
            _append(per_user, f"hit@{k}", (hits[:, :k].sum(1) > 0).float())
        best = scores.masked_fill(~truth, float("-inf")).max(1).values
        rank = ((scores >= best.unsqueeze(1)) & ~truth & ~excluded).sum(1).float() + 1
        _append(per_user, "mrr", 1.0 / rank)
        for k in KS:
            _append(per_user, f"mrr@{k}", torch.where(rank <= k, 1.0 / rank, 0.0))
        _append(per_user, "auc", _auc(scores, truth, excluded, generator))
        if carried_rows is not None:
            carried = _dense(carried_rows, users, task.num_candidates, device)
            _append(per_user, "beyond_items@10", (~carried.gather(1, top[:, :10])).float().mean(1))
            beyond = truth & ~carried
            n_beyond = beyond.sum(1).float()
            beyond_hits = beyond.gather(1, top[:, :10]).float().sum(1)
            _append(
                per_user,
                "beyond_items_recall@10",
                torch.where(n_beyond > 0, beyond_hits / n_beyond.clamp(min=1), torch.nan),
            )
        if slices:
            for name_index, _name in enumerate(ITEM_SLICES):
                in_slice = truth & (item_slice == name_index)
                n_slice = in_slice.sum(1).float()
                slice_hits = in_slice.gather(1, top).float()
                valid = n_slice > 0
                _append(
                    per_user,
                    f"{_name}:recall@20",
                    torch.where(valid, slice_hits.sum(1) / n_slice.clamp(min=1), torch.nan),
                )
                _append(
                    per_user,
                    f"{_name}:ndcg@20",
                    torch.where(valid, _ndcg(slice_hits, n_slice), torch.nan),
                )
    values = {k: torch.cat(v).cpu() for k, v in per_user.items()}
    return Ranked(values, torch.cat(top_lists).cpu())


def evaluate_ranking(
    task: RankingTask,
    score: ScoreFn,
    device: torch.device,
    seed: int = 0,
    chunk: int = 512,
    slices: bool = True,
) -> dict[str, object]:
    """Metrics of ``score`` (user indices → ``[users, candidates]`` scores) on ``task``."""
    if len(task.users) == 0:
        return {"users": 0}
    ranked = rank_users(task, score, device, seed, chunk, slices)
    values = ranked.values
    result: dict[str, object] = {
        k: mean_of(values[k])
        for k in [f"{m}@{k}" for m in ("recall", "ndcg", "hit", "mrr") for k in KS] + ["mrr", "auc"]
    }
    result.update(_beyond_accuracy(ranked.tops, task))
    for key in ("beyond_items@10", "beyond_items_recall@10"):
        if key in values:
            result[key] = mean_of(values[key])
    result["users"] = len(task.users)
    if slices:
        result["slices"] = _slices(values, task)
    return result


def _append(store: dict[str, list[Tensor]], key: str, value: Tensor) -> None:
    store.setdefault(key, []).append(value)


def _ndcg(hits: Tensor, n_truth: Tensor) -> Tensor:
    k = hits.shape[1]
    discount = 1.0 / torch.log2(torch.arange(k, device=hits.device, dtype=torch.float) + 2)
    dcg = (hits * discount).sum(1)
    ideal_len = n_truth.clamp(max=k).long()
    ideal = torch.cumsum(discount, 0)[(ideal_len - 1).clamp(min=0)]
    return torch.where(ideal_len > 0, dcg / ideal, torch.zeros_like(dcg))


def _auc(scores: Tensor, truth: Tensor, excluded: Tensor, generator: Tensor) -> Tensor:
    """Per user: P(score of a held-out candidate > score of a non-relevant one), over up to
    :data:`AUC_NEGATIVES` non-relevant candidates drawn without replacement (the smallest of
    uniform keys over the eligible candidates), ties counting one half."""
    n_users, n_cand = scores.shape
    keys = torch.rand(n_users, n_cand, generator=generator).to(scores.device)
    eligible = ~(truth | excluded)
    keys = keys.masked_fill(~eligible, float("inf"))
    sample = keys.topk(min(AUC_NEGATIVES, n_cand), dim=1, largest=False).indices
    valid = eligible.gather(1, sample)
    neg = scores.gather(1, sample).masked_fill(~valid, float("inf")).sort(1).values
    n_valid = valid.sum(1, keepdim=True)
    finite_scores = scores.masked_fill(~truth, 0.0).contiguous()
    below = torch.searchsorted(neg, finite_scores, right=False).clamp(max=n_valid)
    below_or_equal = torch.searchsorted(neg, finite_scores, right=True).clamp(max=n_valid)
    wins = (below.float() + 0.5 * (below_or_equal - below).float()) * truth
    pairs = truth.sum(1).float() * n_valid.squeeze(1).float()
    return torch.where(pairs > 0, wins.sum(1) / pairs.clamp(min=1), torch.nan)


def _group(pairs: np.ndarray, users: np.ndarray) -> dict[int, np.ndarray]:
    if pairs.size == 0:
        return {}
    keep = np.isin(pairs[0], users)
    src, dst = pairs[0][keep], pairs[1][keep]
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    bounds = np.flatnonzero(np.r_[True, src[1:] != src[:-1], True])
    return {int(src[bounds[i]]): dst[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)}


def _dense(
    rows: dict[int, np.ndarray], users: np.ndarray, width: int, device: torch.device
) -> Tensor:
    out = torch.zeros(len(users), width, dtype=torch.bool)
    for position, user in enumerate(users):
        cols = rows.get(int(user))
        if cols is not None:
            out[position, torch.from_numpy(cols)] = True
    return out.to(device)


def item_slices(degree: np.ndarray) -> Tensor:
    """0 head, 1 torso, 2 tail, by cumulative share of training edges."""
    order = np.argsort(-degree, kind="stable")
    share = np.cumsum(degree[order]) / max(degree.sum(), 1)
    labels = np.full(len(degree), 2, dtype=np.int64)
    previous = np.r_[0.0, share[:-1]]
    labels[order[previous < 0.5]] = 0
    labels[order[(previous >= 0.5) & (previous < 0.8)]] = 1
    labels[degree == 0] = 2
    return torch.from_numpy(labels)


def _beyond_accuracy(tops: Tensor, task: RankingTask) -> dict[str, float]:
    top20 = tops[:, :20]
    pool = len(task.candidates) if task.candidates is not None else task.num_candidates
    coverage = len(torch.unique(top20)) / max(pool, 1)
    popularity = (task.train_degree + 1) / (task.num_users + 1)
    novelty = float(np.mean(-np.log2(popularity[top20.numpy()])))
    diversity = float("nan")
    if task.embeddings is not None and top20.shape[1] > 1:
        emb = torch.from_numpy(task.embeddings)[top20]
        emb = torch.nn.functional.normalize(emb, dim=-1)
        gram = emb @ emb.transpose(1, 2)
        n = top20.shape[1]
        mean_sim = (gram.sum((1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(1)) / (n * (n - 1))
        diversity = float((1 - mean_sim).mean())
    return {
        "coverage": round(coverage, 5),
        "novelty": round(novelty, 4),
        "diversity": round(diversity, 5),
    }


def _slices(values: dict[str, Tensor], task: RankingTask) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    counts = task.user_train_count[task.users]
    for name, low, high in USER_SLICES:
        mask = torch.from_numpy((counts >= low) & ((counts <= high) if high is not None else True))
        out[name] = {
            "users": int(mask.sum()),
            "recall@20": mean_of(values["recall@20"][mask]),
            "ndcg@20": mean_of(values["ndcg@20"][mask]),
        }
    labels = item_slices(task.train_degree).numpy()
    if task.candidates is not None:  # a published split ranks its own item set only
        labels = labels[task.candidates]
    for index, name in enumerate(ITEM_SLICES):
        recall = values[f"{name}:recall@20"]
        out[f"items_{name}"] = {
            "items": int((labels == index).sum()),
            "users": int((~torch.isnan(recall)).sum()),
            "recall@20": mean_of(recall),
            "ndcg@20": mean_of(values[f"{name}:ndcg@20"]),
        }
    return out


def mean_of(values: Tensor) -> float | None:
    values = values[~torch.isnan(values)]
    return round(float(values.mean()), 5) if len(values) else None
