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

A user→tag pair derived from events stays a training pair only if one of its own events passes
rules 2–5, and its weight counts those events (:func:`settle_event_interests`); otherwise
user → tag ← item would reach the held-out item its only events were on.

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


def visible_events(
    snapshot: Snapshot, targets: dict[str, pd.DataFrame], split: Split | None
) -> np.ndarray:
    """Rules 2–5 of the module docstring: events not tied to a held-out interaction, a cold
    item, a cold user's held-out item or a time after the cutoff."""
    events = snapshot.tag_events
    count = len(events)
    if split is None or count == 0:
        return np.ones(count, dtype=bool)
    users, items = events["user"].to_numpy(), events["item"].to_numpy()
    n_items = snapshot.num_nodes("item")
    item_frame = targets["user_item"]
    item_split = split.targets["user_item"]
    held = item_frame.iloc[np.concatenate([item_split.val, item_split.test])]
    event_pairs = pair_keys(users, items, n_items)
    keep = ~np.isin(event_pairs, pair_keys(held["src"], held["dst"], n_items))
    keep &= ~np.isin(items, split.cold_items)
    if len(split.cold_users):
        kept = item_frame.iloc[item_split.train]
        kept_pairs = pair_keys(kept["src"], kept["dst"], n_items)
        cold = np.isin(users, split.cold_users)
        keep &= ~cold | np.isin(event_pairs, kept_pairs)
    if split.cutoff is not None:
        keep &= events["ts"].to_numpy() < split.cutoff
    return keep


def training_events(
    snapshot: Snapshot, targets: dict[str, pd.DataFrame], split: Split | None
) -> np.ndarray:
    """Which tagging events are training events (rules 1–5 of the module docstring)."""
    keep = visible_events(snapshot, targets, split)
    if split is None or not len(keep):
        return keep
    events = snapshot.tag_events
    n_interests = snapshot.num_nodes("interest")
    interest_train = targets["user_interest"].iloc[split.targets["user_interest"].train]
    return keep & np.isin(
        pair_keys(events["user"], events["interest"], n_interests),
        pair_keys(interest_train["src"], interest_train["dst"], n_interests),
    )


def settle_event_interests(
    snapshot: Snapshot, targets: dict[str, pd.DataFrame], split: Split | None
) -> None:
    """Keep a user→tag pair that came from tagging events in training only if one of its own
    events is visible, and count its weight from visible events alone.

    A user who tagged one movie ``heist``, whose rating of it is a test answer, would otherwise
    keep ``(user, heist)`` as a training edge, and user → heist ← movie would reach the answer.
    Such a pair moves to validation if one of its events' interactions is a validation pair,
    else to test (it is then an interest to predict). A stated (``explicit``) pair stays.
    Changes ``split`` and the weights of ``targets["user_interest"]`` in place."""
    events = snapshot.tag_events
    if split is None or not len(events):
        return
    n_interests = snapshot.num_nodes("interest")
    frame = targets["user_interest"]
    part = split.targets["user_interest"]
    visible = visible_events(snapshot, targets, split)
    event_keys = pair_keys(events["user"], events["interest"], n_interests)
    frame_keys = pair_keys(frame["src"], frame["dst"], n_interests)
    train_keys = frame_keys[part.train]
    from_events = np.isin(train_keys, event_keys) & ~frame["explicit"].to_numpy()[part.train]
    backed = np.isin(train_keys, event_keys[visible])
    moved = part.train[from_events & ~backed]
    if len(moved):
        item_split = split.targets["user_item"]
        val_items = targets["user_item"].iloc[item_split.val]
        val_keys = pair_keys(val_items["src"], val_items["dst"], snapshot.num_nodes("item"))
        hidden = events[~visible]
        hidden_in_val = np.isin(
            pair_keys(hidden["user"], hidden["item"], snapshot.num_nodes("item")), val_keys
        )
        to_val = np.isin(
            frame_keys[moved],
            pair_keys(hidden["user"], hidden["interest"], n_interests)[hidden_in_val],
        )
        part.train = np.setdiff1d(part.train, moved)
        part.val = np.sort(np.r_[part.val, moved[to_val]]).astype(np.int64)
        part.test = np.sort(np.r_[part.test, moved[~to_val]]).astype(np.int64)
    counted = events[training_events(snapshot, targets, split)]
    counts = counted.groupby(["user", "interest"]).size()
    rows = part.train[np.isin(frame_keys[part.train], event_keys)]
    rows = rows[~frame["explicit"].to_numpy()[rows]]
    index = pd.MultiIndex.from_arrays(
        [frame["src"].to_numpy()[rows], frame["dst"].to_numpy()[rows]]
    )
    frame.loc[rows, "weight"] = counts.reindex(index).to_numpy(dtype=np.float32)


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
