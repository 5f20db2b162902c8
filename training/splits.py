"""Train/validation/test splits of the target relations, with no leakage by construction.

Each target relation (``user_item`` = INTERACTED, ``user_interest`` = INTERESTED_IN) is split
into row indices of its edge table. Only training rows ever enter the message-passing graph or a
user's text; validation and test rows exist only as ranking ground truth.

Modes:
- ``user-random``: per user, a random 10% to test and 10% to validation (users with fewer than
  3 edges keep all of them in training).
- ``temporal``: one global time cutoff, as in production: every edge before ``T_val`` trains,
  edges in ``[T_val, T_test)`` validate and edges from ``T_test`` on test, with ``T_val`` and
  ``T_test`` the 80% and 90% quantiles of the interaction timestamps. Interest edges follow the
  same cutoffs (by their first use; an undated one trains), and only tagging events before
  ``T_val`` are training events (``Split.cutoff``). Needs a timestamp on every interaction.
- ``temporal-user``: the per-user variant: each user's latest 10% to test and the 10% before to
  validation; a relation without timestamps falls back to user-random (noted in ``notes``).
- ``item-cold``: a fixed 10% of the items that have interactions lose all of them, half to
  validation and half to test; those items are ranked among themselves (the new-arrivals
  shelf) and keep their text and catalogue interest edges.
- ``user-cold``: a fixed 10% of the users with at least 5 interactions are new: they keep at
  most 3 interactions, their explicitly stated interests (``source: explicit``) and the tags
  they put on those 3 items (:func:`restrict_cold_user_interests`); every other edge of theirs
  is held out (half of those users for validation, half for test).
- ``published``: a predefined train/test split (see ``training.published``), validation carved
  per user out of its training edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.choices import MODES

TEMPORAL_QUANTILES = (0.8, 0.9)
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
    #: events at or after this time (unix seconds) are never training events
    cutoff: int | None = None

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
            "cutoff": self.cutoff,
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
    if mode == "temporal":
        return _global_temporal(split, edges)
    for target, frame in edges.items():
        if mode == "temporal-user":
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


def _global_temporal(split: Split, edges: dict[str, pd.DataFrame]) -> Split:
    """Train before ``T_val``, validate in ``[T_val, T_test)``, test from ``T_test`` on."""
    ts = edges["user_item"]["ts"].to_numpy()
    if len(ts) == 0 or (ts < 0).any():
        raise ValueError(
            "--split temporal needs a timestamp on every interaction; use --split temporal-user "
            "or user-random"
        )
    t_val, t_test = (int(np.quantile(ts, q, method="higher")) for q in TEMPORAL_QUANTILES)
    split.cutoff = t_val
    split.notes.append(f"global cutoffs: validation from ts {t_val}, test from ts {t_test}")
    for target, frame in edges.items():
        when = frame["ts"].to_numpy()
        rows = np.arange(len(when))
        dated = when >= 0
        split.targets[target] = TargetSplit(
            train=rows[~dated | (when < t_val)],
            val=rows[dated & (when >= t_val) & (when < t_test)],
            test=rows[dated & (when >= t_test)],
        )
    return split


def restrict_cold_user_interests(
    split: Split, interest_edges: pd.DataFrame, item_edges: pd.DataFrame, events: pd.DataFrame
) -> None:
    """A new user keeps only what a new user brings: interests they stated (``explicit``) and
    the tags they put on their kept interactions. Their other interest edges move to the part
    (validation or test) their held-out interactions are in. Changes ``split`` in place."""
    if not len(split.cold_users) or "user_interest" not in split.targets:
        return
    item_split = split.targets["user_item"]
    kept = item_edges.iloc[item_split.train]
    cold_kept = kept[kept["src"].isin(split.cold_users)]
    items = np.r_[item_edges["dst"].to_numpy(), events["item"].to_numpy()]
    width = int(items.max(initial=0)) + 1
    on_kept = events[
        np.isin(
            events["user"].to_numpy() * width + events["item"].to_numpy(),
            cold_kept["src"].to_numpy() * width + cold_kept["dst"].to_numpy(),
        )
    ]
    shown = set(zip(on_kept["user"].tolist(), on_kept["interest"].tolist(), strict=True))
    val_users = np.unique(item_edges["src"].to_numpy()[item_split.val])
    target = split.targets["user_interest"]
    src, dst = interest_edges["src"].to_numpy(), interest_edges["dst"].to_numpy()
    explicit = interest_edges["explicit"].to_numpy()
    train = target.train
    is_cold = np.isin(src[train], split.cold_users)
    stays = ~is_cold | explicit[train]
    stays |= np.fromiter(
        ((int(u), int(t)) in shown for u, t in zip(src[train], dst[train], strict=True)),
        dtype=bool,
        count=len(train),
    )
    moved = train[~stays]
    to_val = np.isin(src[moved], val_users)
    target.train = train[stays]
    target.val = np.sort(np.r_[target.val, moved[to_val]]).astype(np.int64)
    target.test = np.sort(np.r_[target.test, moved[~to_val]]).astype(np.int64)


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
