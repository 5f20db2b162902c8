"""A synthetic power-law graph written as a snapshot: for scale benchmarks and for tests that
need a training graph of a chosen size without Neo4j.

Shaped like the real catalogues here: user activity and item popularity follow Zipf-like
laws (a few heavy users and blockbuster items, a long tail of both), each item carries one to
three catalogue interests drawn from a popularity-skewed vocabulary, users prefer items that
share interests with their taste (so there is signal to learn), and some users tag some of
their items with one of the item's interests (tagging events, folded into edges the way the
loaders fold them). Node features are random unit vectors: speed and memory do not depend on
their values. Same arguments, same seed → same snapshot, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphdb.snapshot import EDGE_COLUMNS, RELATIONS, Snapshot


@dataclass(frozen=True)
class SyntheticShape:
    """Size and skew of a synthetic graph."""

    users: int
    items: int
    interests: int = 0  # 0: items // 20, at least 10
    interactions_per_user: float = 20.0
    skew: float = 1.0  # Zipf exponent of item popularity
    activity_skew: float = 0.6  # Zipf exponent of user activity
    taggers: float = 0.1  # share of users who tag
    tags_per_tagger: int = 5
    dims: int = 64
    seed: int = 0


def synthetic_snapshot(shape: SyntheticShape) -> Snapshot:
    """The graph of ``shape`` as an in-memory :class:`Snapshot` (write it with
    :func:`graphdb.snapshot.write_snapshot`)."""
    if shape.users < 2 or shape.items < 2:
        raise ValueError(f"a synthetic graph needs at least 2 users and 2 items, got {shape}")
    rng = np.random.default_rng(shape.seed)
    interests = shape.interests or max(10, shape.items // 20)
    item_interests = _item_interests(rng, shape.items, interests, shape.skew)
    interactions = _interactions(rng, shape, item_interests, interests)
    events = _tag_events(rng, shape, interactions, item_interests)
    nodes = {
        "user": pd.DataFrame(
            {"id": _ids("u", shape.users), "name": _ids("user ", shape.users), "profile": None}
        ),
        "item": pd.DataFrame(
            {
                "id": _ids("i", shape.items),
                "name": _ids("item ", shape.items),
                "year": np.nan,
                "description": None,
                "genres": None,
            }
        ),
        "interest": pd.DataFrame(
            {"id": _ids("t", interests), "name": _ids("topic ", interests), "kind": "topic"}
        ),
    }
    for frame in nodes.values():
        frame["id"] = frame["id"].astype("string")
        frame["name"] = frame["name"].astype("string")
    nodes["interest"]["kind"] = nodes["interest"]["kind"].astype("string")
    embeddings = {t: _unit_rows(rng, len(f), shape.dims) for t, f in nodes.items()}
    catalogue = pd.DataFrame(
        {"src": item_interests[0], "dst": item_interests[1], "weight": 1.0, "source": "catalog"}
    )
    tagged = events.groupby(["item", "interest"]).size().reset_index(name="weight")
    edges = {
        "interacted": _edges(interactions[0], interactions[1], 1.0, interactions[2], "interaction"),
        "interested_in": _edges(
            *_unique_pairs(events["user"], events["interest"]), 1.0, -1, "tagging"
        ),
        "has_interest": pd.concat(
            [
                _edges(catalogue["src"], catalogue["dst"], 1.0, -1, "catalog"),
                _edges(tagged["item"], tagged["interest"], tagged["weight"], -1, "user_tag"),
            ],
            ignore_index=True,
        ),
    }
    for relation in RELATIONS:
        edges.setdefault(relation, _edges([], [], 1.0, -1, "none"))
    manifest = {"name": f"synthetic-{shape.users}u-{shape.items}i-s{shape.seed}", "synthetic": True}
    return Snapshot(nodes, embeddings, edges, manifest, events)


def _ids(prefix: str, count: int) -> list[str]:
    """Zero-padded so that the sort order of ids (a snapshot's row order) is numeric order."""
    width = len(str(count - 1))
    return [f"{prefix}{k:0{width}d}" for k in range(count)]


def _zipf_weights(count: int, skew: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** skew
    return weights / weights.sum()


def _unit_rows(rng: np.random.Generator, rows: int, dims: int) -> np.ndarray:
    x = rng.standard_normal((rows, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-6)


def _item_interests(
    rng: np.random.Generator, items: int, interests: int, skew: float
) -> np.ndarray:
    """[2, E] item → interest catalogue pairs: 1–3 distinct interests per item."""
    per_item = rng.integers(1, 4, items)
    src = np.repeat(np.arange(items), per_item)
    dst = rng.choice(interests, size=len(src), p=_zipf_weights(interests, skew))
    pairs = np.unique(np.stack([src, dst]), axis=1)
    return pairs


def _interactions(
    rng: np.random.Generator, shape: SyntheticShape, item_interests: np.ndarray, interests: int
) -> np.ndarray:
    """[3, E] (user, item, ts), duplicates dropped: 3 draws per user plus a Zipf-like share of
    the rest; half of a user's draws come from the items of two favourite interests, half from
    global popularity. Vectorised: a million users take seconds."""
    item_order = rng.permutation(shape.items)  # popular items are not the low ids
    activity = _zipf_weights(shape.users, shape.activity_skew)[rng.permutation(shape.users)]
    spare = max(0.0, shape.interactions_per_user - 3) * shape.users
    counts = np.minimum(3 + np.round(activity * spare), max(3, shape.items // 2)).astype(np.int64)
    users = np.repeat(np.arange(shape.users), counts)
    popularity = _zipf_weights(shape.items, shape.skew)
    popular = item_order[rng.choice(shape.items, len(users), p=popularity)]
    favourites = rng.integers(0, interests, (shape.users, 2))
    picked = favourites[users, rng.integers(0, 2, len(users))]
    themed = _draw_member(rng, item_interests[1], item_interests[0], picked, interests)
    themed_draw = (rng.random(len(users)) < 0.5) & (themed >= 0)
    items = np.where(themed_draw, themed, popular)
    keys = np.unique(users * shape.items + items)
    src, dst = keys // shape.items, keys % shape.items
    ts = rng.integers(1_500_000_000, 1_700_000_000, len(src))
    return np.stack([src, dst, ts])


def _draw_member(
    rng: np.random.Generator, groups: np.ndarray, members: np.ndarray, wanted: np.ndarray, size: int
) -> np.ndarray:
    """For each entry of ``wanted`` (a group id), one random member of that group (-1 for an
    empty group), through CSR offsets of the (group, member) pairs."""
    order = np.argsort(groups, kind="stable")
    sorted_members = members[order]
    offsets = np.searchsorted(groups[order], np.arange(size + 1))
    sizes = offsets[wanted + 1] - offsets[wanted]
    pick = offsets[wanted] + (rng.random(len(wanted)) * np.maximum(sizes, 1)).astype(np.int64)
    return np.where(sizes > 0, sorted_members[np.minimum(pick, len(sorted_members) - 1)], -1)


def _tag_events(
    rng: np.random.Generator,
    shape: SyntheticShape,
    interactions: np.ndarray,
    item_interests: np.ndarray,
) -> pd.DataFrame:
    """Tagging events: a share of users tag up to ``tags_per_tagger`` of their items, each
    with one of that item's interests."""
    taggers = rng.random(shape.users) < shape.taggers
    mine = np.flatnonzero(taggers[interactions[0]])
    priority = rng.random(len(mine))
    order = np.lexsort((priority, interactions[0][mine]))
    mine = mine[order]
    user_of = interactions[0][mine]
    first = np.searchsorted(user_of, user_of)  # position of each user's first row
    keep = mine[np.arange(len(mine)) - first < shape.tags_per_tagger]
    items = interactions[1][keep]
    interests = _draw_member(rng, item_interests[0], item_interests[1], items, shape.items)
    return pd.DataFrame(
        {
            "user": interactions[0][keep],
            "item": items,
            "interest": interests,
            "ts": interactions[2][keep],
        }
    ).astype(np.int64)


def _unique_pairs(src: pd.Series, dst: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.unique(np.stack([src.to_numpy(), dst.to_numpy()]), axis=1)
    return pairs[0], pairs[1]


def _edges(src, dst, weight, ts, source: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "src": np.asarray(src, np.int64),
            "dst": np.asarray(dst, np.int64),
        }
    )
    frame["weight"] = np.broadcast_to(np.asarray(weight, np.float32), len(frame)).copy()
    frame["ts"] = np.broadcast_to(np.asarray(ts, np.int64), len(frame)).copy()
    frame["source"] = pd.array([source] * len(frame), dtype="string")
    return frame[list(EDGE_COLUMNS)]
