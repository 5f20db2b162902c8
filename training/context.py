"""What the model may see for one split, derived from training events only.

The rule (README, "Honest evaluation"): a held-out answer must not reach the model by any path.
The graph folds each tagging event into ``INTERESTED_IN {tagging}`` and
``HAS_INTEREST {user_tag}`` edges and into item texts, so those are rebuilt here, per split, from
the events that are *training events*. An event ``(user, item, tag, ts)`` counts only if

1. its ``(user, tag)`` pair is a training user→interest pair;
2. its ``(user, item)`` pair is not a held-out (validation or test) user→item pair;
3. its item is not a cold item (a new item brings no user's tags);
4. when its user is a cold user, ``(user, item)`` is one of the user's kept interactions;
5. when the split has a time cutoff, it happened before the cutoff.

From the training events: item→tag edges (``user_tag``, weight = distinct taggers) and the tag
part of item texts. Catalogue edges (``catalog``, ``explicit``) are facts a new item brings and
stay. LLM-proposed edges (``llm``) are left out: the tagger was fitted on every item's tags.
``RELATED_TO`` co-occurrence counts every user's interests, held-out ones included, so only the
``embedding`` edges (from interest texts alone) stay. User texts come from training pairs
(``training.data.user_texts``). ``split=None`` (production: ``predict``, ``--refit``) counts
every event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.texts import WeightedName, item_text
from graphdb.snapshot import Snapshot
from training.splits import Split

#: HAS_INTEREST sources that are derived from user events or fitted on them
EVENT_SOURCES = frozenset({"user_tag", "llm"})
#: RELATED_TO sources built without any user's edges
CONTENT_RELATED_SOURCES = frozenset({"embedding"})


@dataclass
class TrainingContext:
    """The non-target part of the graph the model sees, and item texts built from it."""

    events: np.ndarray  # bool per row of ``snapshot.tag_events``: a training event
    has_interest: pd.DataFrame  # src (item), dst (interest), weight, source
    related_to: pd.DataFrame  # src, dst, weight, source (content-only edges)
    item_texts: list[str]


def pair_keys(src: np.ndarray, dst: np.ndarray, width: int) -> np.ndarray:
    """One int64 per (src, dst) pair, for fast set membership."""
    return np.asarray(src, dtype=np.int64) * np.int64(width) + np.asarray(dst, dtype=np.int64)


def training_events(
    snapshot: Snapshot, targets: dict[str, pd.DataFrame], split: Split | None
) -> np.ndarray:
    """Which tagging events are training events (rules 1–5 of the module docstring)."""
    events = snapshot.tag_events
    count = len(events)
    if split is None or count == 0:
        return np.ones(count, dtype=bool)
    users, items = events["user"].to_numpy(), events["item"].to_numpy()
    interests = events["interest"].to_numpy()
    n_items, n_interests = snapshot.num_nodes("item"), snapshot.num_nodes("interest")
    interest_frame = targets["user_interest"]
    interest_train = interest_frame.iloc[split.targets["user_interest"].train]
    keep = np.isin(
        pair_keys(users, interests, n_interests),
        pair_keys(interest_train["src"], interest_train["dst"], n_interests),
    )
    item_frame = targets["user_item"]
    item_split = split.targets["user_item"]
    held = item_frame.iloc[np.concatenate([item_split.val, item_split.test])]
    event_pairs = pair_keys(users, items, n_items)
    keep &= ~np.isin(event_pairs, pair_keys(held["src"], held["dst"], n_items))
    keep &= ~np.isin(items, split.cold_items)
    if len(split.cold_users):
        kept = item_frame.iloc[item_split.train]
        kept_pairs = pair_keys(kept["src"], kept["dst"], n_items)
        cold = np.isin(users, split.cold_users)
        keep &= ~cold | np.isin(event_pairs, kept_pairs)
    if split.cutoff is not None:
        keep &= events["ts"].to_numpy() < split.cutoff
    return keep


def derive_context(
    snapshot: Snapshot, targets: dict[str, pd.DataFrame], split: Split | None
) -> TrainingContext:
    """Item→interest edges, content-only interest links and item texts for ``split``."""
    counted = training_events(snapshot, targets, split)
    has_interest = snapshot.edges["has_interest"]
    catalogue = has_interest[~has_interest["source"].isin(EVENT_SOURCES)]
    events = snapshot.tag_events[counted]
    taggers = (
        events.drop_duplicates(["user", "item", "interest"])
        .groupby(["item", "interest"], sort=True)
        .size()
        .reset_index(name="weight")
    )
    user_tag = pd.DataFrame(
        {
            "src": taggers["item"].to_numpy(np.int64),
            "dst": taggers["interest"].to_numpy(np.int64),
            "weight": taggers["weight"].to_numpy(np.float32),
            "ts": np.full(len(taggers), -1, dtype=np.int64),
            "source": "user_tag",
        }
    )
    item_edges = pd.concat([catalogue, user_tag], ignore_index=True)
    related = snapshot.edges["related_to"]
    return TrainingContext(
        events=counted,
        has_interest=item_edges.reset_index(drop=True),
        related_to=related[related["source"].isin(CONTENT_RELATED_SOURCES)].reset_index(drop=True),
        item_texts=item_texts(snapshot, item_edges),
    )


def item_texts(snapshot: Snapshot, item_edges: pd.DataFrame) -> list[str]:
    """Each item's text from its catalogue facts and the given item→interest edges: the same
    builder ``embed`` uses (``features.texts.item_text``), so with every event counted the
    text is the graph's own and the embedding cache already holds it."""
    items = snapshot.nodes["item"]
    interests = snapshot.nodes["interest"]
    is_tag = (interests["kind"] != "genre").to_numpy()
    names = interests["name"].astype(str).to_numpy()
    tags: list[list[WeightedName]] = [[] for _ in range(len(items))]
    tag_edges = item_edges[is_tag[item_edges["dst"].to_numpy()]]
    for src, dst, weight in zip(
        tag_edges["src"].to_numpy(),
        tag_edges["dst"].to_numpy(),
        tag_edges["weight"].to_numpy(),
        strict=True,
    ):
        tags[src].append(WeightedName(names[dst], float(weight)))
    return [
        item_text(
            title,
            _optional_year(year),
            list(genres) if genres is not None else [],
            tags[row],
            description if isinstance(description, str) else None,
        )
        for row, (title, year, genres, description) in enumerate(
            zip(items["name"], items["year"], items["genres"], items["description"], strict=True)
        )
    ]


def _optional_year(value: object) -> int | None:
    """Parquet hands back a missing year as NaN (float) or None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)  # type: ignore[call-overload]
