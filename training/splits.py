"""Train/validation/test splits of the target relations, with no leakage by construction.

Each target relation (``user_item`` = INTERACTED, ``user_interest`` = INTERESTED_IN) is split
into row indices of its edge table. Only training rows ever enter the message-passing graph or a
user's text; validation and test rows exist only as ranking ground truth.

Modes:
- ``user-random``: per user, a random 10% to test and 10% to validation (users with fewer than
  3 edges keep all of them in training).
- ``temporal``: the same shares, but each user's latest edges go to test and the ones before to
  validation; a relation without timestamps falls back to user-random (noted in ``notes``).
- ``item-cold``: a fixed 10% of the items that have interactions lose all of them, half to
  validation and half to test; those items are ranked among themselves (the new-arrivals
  shelf) and keep their text and catalogue interest edges.
- ``user-cold``: a fixed 10% of the users with at least 5 interactions are new: they keep their
  interest edges and at most 3 interactions, the rest is held out (half of those users for
  validation, half for test).
- ``published``: a predefined train/test split (see ``training.published``), validation carved
  per user out of its training edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MODES = ("user-random", "temporal", "item-cold", "user-cold", "published")
HOLDOUT_SHARE = 0.1
COLD_SHARE = 0.1
COLD_USER_KEEP = 3
COLD_USER_MIN = 5


@dataclass
class TargetSplit:
    """Row indices of one relation's edge table per part; candidates restrict what is ranked
    (``None`` = every destination node)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    candidates: dict[str, np.ndarray | None] = field(
        default_factory=lambda: {"val": None, "test": None}
    )


@dataclass
class Split:
    """The split of every target relation, plus what a reader needs to trust it."""

    mode: str
    seed: int
    targets: dict[str, TargetSplit]
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cold_users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "seed": self.seed,
            "edges": {
                t: {"train": len(s.train), "val": len(s.val), "test": len(s.test)}
                for t, s in self.targets.items()
            },
            "cold_items": len(self.cold_items),
            "cold_users": len(self.cold_users),
            "notes": self.notes,
        }


def make_split(
    mode: str,
    edges: dict[str, pd.DataFrame],
    num_items: int,
    seed: int = 0,
) -> Split:
    """Split ``edges`` (target name → frame with ``src``, ``dst``, ``ts``) by ``mode``."""
    if mode not in MODES or mode == "published":
        choices = ", ".join(m for m in MODES if m != "published")
        raise ValueError(f"--split must be one of {choices} (or a published split), got {mode!r}")
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    split = Split(mode, seed, {}, notes=notes)
    for target, frame in edges.items():
        if mode == "temporal":
            if (frame["ts"] < 0).any() or frame.empty:
                notes.append(f"{target}: no timestamps on every edge, split user-random")
                split.targets[target] = per_user_holdout(frame, rng)
            else:
                split.targets[target] = per_user_holdout(frame, rng, order=frame["ts"].to_numpy())
        elif mode == "item-cold" and target == "user_item":
            split.targets[target], split.cold_items = _item_cold(frame, rng)
        elif mode == "user-cold" and target == "user_item":
            split.targets[target], split.cold_users = _user_cold(frame, rng)
        elif mode == "user-cold":
            split.targets[target] = per_user_holdout(frame, rng, exclude=split.cold_users)
        else:
            split.targets[target] = per_user_holdout(frame, rng)
    return split


def per_user_holdout(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    order: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    share: float = HOLDOUT_SHARE,
) -> TargetSplit:
    """Per source node: the last ``share`` (by ``order``, else random) to test, the ``share``
    before to validation. Sources in ``exclude`` keep every edge in training."""
    src = frame["src"].to_numpy()
    count = len(src)
    noise = rng.random(count)
    keys = (noise, src) if order is None else (noise, order, src)
    ordered = np.lexsort(keys)
    sorted_src = src[ordered]
    boundaries = np.flatnonzero(np.r_[True, sorted_src[1:] != sorted_src[:-1]])
    sizes = np.diff(np.r_[boundaries, count])
    group_size = np.repeat(sizes, sizes)
    position = np.arange(count) - np.repeat(boundaries, sizes)
    held = np.where(group_size >= 3, np.maximum(1, np.floor(group_size * share + 0.5)), 0)
    if exclude is not None and len(exclude):
        held = np.where(np.isin(sorted_src, exclude), 0, held)
    is_test = position >= group_size - held
    is_val = ~is_test & (position >= group_size - 2 * held)
    return TargetSplit(
        train=np.sort(ordered[~is_test & ~is_val]),
        val=np.sort(ordered[is_val]),
        test=np.sort(ordered[is_test]),
    )


def _item_cold(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[TargetSplit, np.ndarray]:
    items = np.unique(frame["dst"].to_numpy())
    chosen = rng.permutation(items)[: max(2, round(len(items) * COLD_SHARE))]
    val_items, test_items = np.sort(chosen[: len(chosen) // 2]), np.sort(chosen[len(chosen) // 2 :])
    dst = frame["dst"].to_numpy()
    rows = np.arange(len(dst))
    in_val, in_test = np.isin(dst, val_items), np.isin(dst, test_items)
    split = TargetSplit(
        train=rows[~in_val & ~in_test],
        val=rows[in_val],
        test=rows[in_test],
        candidates={"val": val_items, "test": test_items},
    )
    return split, np.sort(chosen)


def _user_cold(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[TargetSplit, np.ndarray]:
    src = frame["src"].to_numpy()
    users, counts = np.unique(src, return_counts=True)
    eligible = users[counts >= COLD_USER_MIN]
    chosen = rng.permutation(eligible)[: max(2, round(len(users) * COLD_SHARE))]
    val_users = chosen[: len(chosen) // 2]
    rows = np.arange(len(src))
    noise = rng.random(len(src))
    ordered = np.lexsort((noise, src))
    sorted_src = src[ordered]
    boundaries = np.flatnonzero(np.r_[True, sorted_src[1:] != sorted_src[:-1]])
    sizes = np.diff(np.r_[boundaries, len(src)])
    position = np.empty(len(src), dtype=np.int64)
    position[ordered] = np.arange(len(src)) - np.repeat(boundaries, sizes)
    cold = np.isin(src, chosen)
    held = cold & (position >= COLD_USER_KEEP)
    to_val = held & np.isin(src, val_users)
    split = TargetSplit(train=rows[~held], val=rows[to_val], test=rows[held & ~to_val])
    return split, np.sort(chosen)
