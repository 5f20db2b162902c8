"""Who a model serves worse, and what it never shows: quality per user group and exposure per
item group, on a split's test edges.

User groups are the activity buckets (training interactions, as the metrics' user slices)
always, plus any user attribute the snapshot holds (``attr_*`` columns). Item groups are the
popularity groups (head / torso / tail of the training degree, as the metrics' item slices)
always, plus any item attribute. Per user group: users, Recall@20 and NDCG@20, and per
attribute the worst-to-best ratio of Recall@20 over the groups with at least
:data:`MIN_GROUP_USERS` users (smaller groups are listed but not compared: their mean is
noise). Per item group: its share of the candidates and of the top-20 slots; over all
candidates, the Gini index of exposure (0: every candidate shown equally often; near 1: a few
take every slot) and the tail's share of the slots.

The mitigation priced here is a popularity penalty: each user's scores and the candidates'
``log(1 + training degree)`` are standardised, and ``weight`` times the second is subtracted
from the first before ranking (weight 0 is the model itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from training.metrics import (
    ITEM_SLICES,
    USER_SLICES,
    Ranked,
    RankingTask,
    ScoreFn,
    item_slices,
    mean_of,
)

#: groups smaller than this are reported but left out of the worst-to-best ratio
MIN_GROUP_USERS = 10
TOP = 20


def as_labels(values: Any) -> np.ndarray:
    """Attribute values as group labels: strings, ``None`` where the value is missing."""
    return np.asarray(
        [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values],
        dtype=object,
    )


def activity_groups(user_train_count: np.ndarray) -> np.ndarray:
    """Each user's activity bucket (``users_le_5``, ``users_6_20``, ``users_gt_20``)."""
    labels = np.empty(len(user_train_count), dtype=object)
    for name, low, high in USER_SLICES:
        upper = high if high is not None else np.inf
        labels[(user_train_count >= low) & (user_train_count <= upper)] = name
    return labels


def popularity_groups(train_degree: np.ndarray) -> np.ndarray:
    """Each candidate's popularity group (``head``, ``torso``, ``tail``)."""
    return np.asarray(ITEM_SLICES, dtype=object)[item_slices(train_degree).numpy()]


def gini(exposure: np.ndarray) -> float:
    """Gini index of non-negative counts (0 when all are equal, or all zero)."""
    values = np.sort(np.asarray(exposure, dtype=np.float64))
    total = values.sum()
    if total == 0 or len(values) < 2:
        return 0.0
    ranks = np.arange(1, len(values) + 1)
    return float(((2 * ranks - len(values) - 1) @ values) / (len(values) * total))


def popularity_penalty(score: ScoreFn, train_degree: np.ndarray, weight: float) -> ScoreFn:
    """``score`` re-ranked against popularity (see the module docstring); weight 0 is
    ``score`` itself."""
    if weight == 0:
        return score
    popularity = torch.log1p(torch.from_numpy(train_degree).float())
    popularity = (popularity - popularity.mean()) / popularity.std().clamp(min=1e-12)

    def penalised(users: Tensor) -> Tensor:
        scores = score(users).float()
        finite = torch.isfinite(scores)
        filled = torch.where(finite, scores, 0.0)
        count = finite.sum(1, keepdim=True).clamp(min=1)
        mean = filled.sum(1, keepdim=True) / count
        spread = (((filled - mean) * finite) ** 2).sum(1, keepdim=True) / count
        standard = (scores - mean) / spread.sqrt().clamp(min=1e-12)
        return standard - weight * popularity.to(scores.device)

    return penalised


def user_report(
    ranked: Ranked, task: RankingTask, groups: dict[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """Per attribute (``groups``: a label or ``None`` per user row, see :func:`as_labels`):
    each group's quality and the
    worst-to-best Recall@20 ratio."""
    out: dict[str, dict[str, Any]] = {}
    for attribute, labels in groups.items():
        of_users = labels[task.users]
        rows: dict[str, dict[str, Any]] = {}
        for label in sorted({v for v in of_users if v is not None}):
            mask = torch.from_numpy(of_users == label)
            rows[label] = {
                "users": int(mask.sum()),
                "recall@20": mean_of(ranked.values["recall@20"][mask]),
                "ndcg@20": mean_of(ranked.values["ndcg@20"][mask]),
            }
        compared = [
            r["recall@20"]
            for r in rows.values()
            if r["users"] >= MIN_GROUP_USERS and r["recall@20"] is not None
        ]
        ratio = min(compared) / max(compared) if len(compared) > 1 and max(compared) > 0 else None
        out[attribute] = {
            "groups": rows,
            "worst_to_best_recall@20": round(ratio, 4) if ratio is not None else None,
        }
    return out


def item_report(ranked: Ranked, task: RankingTask, groups: dict[str, np.ndarray]) -> dict[str, Any]:
    """Exposure of the top-20 lists: Gini over the candidate pool, the tail's share, and each
    item group's share of candidates and of slots."""
    pool = task.candidates if task.candidates is not None else np.arange(task.num_candidates)
    slots = ranked.tops[:, :TOP].numpy().ravel()
    exposure = np.bincount(slots, minlength=task.num_candidates)[pool]
    total = max(int(exposure.sum()), 1)
    popularity = popularity_groups(task.train_degree)[pool]
    out: dict[str, Any] = {
        "gini": round(gini(exposure), 4),
        "tail_share": round(float(exposure[popularity == "tail"].sum()) / total, 4),
        "by": {},
    }
    for attribute, labels in groups.items():
        of_pool = labels[pool]
        out["by"][attribute] = {
            label: {
                "candidates": round(float(np.mean(of_pool == label)), 4),
                "exposure": round(float(exposure[of_pool == label].sum()) / total, 4),
            }
            for label in sorted({v for v in of_pool if v is not None})
        }
    return out
