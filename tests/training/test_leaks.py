"""No held-out answer may reach the model: one generic check, run on every split.

The graph folds each tagging event into item→tag edges and item texts. For every split, an event
is *held out* when its (user, item) or (user, tag) pair is a validation or test answer, its item
is cold, its user is cold and the item is not one of their kept interactions, or it happened
after the split's cutoff. Nothing the model sees may come from a held-out event: no
``user_tag`` edge, no tag in an item text, no held-out pair in the message-passing graph, no
held-out item or interest in a user text. The canary tags of the fixture (one event each) make
a leak visible by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.encoder import TextEncoder
from features.texts import listed_tags
from graphdb.snapshot import Snapshot, read_snapshot
from tests.cli_json import run_json
from training.context import EVENT_SOURCES
from training.experiment import ModelConfig, Prepared, graph_for, prepare

SPLITS = ("user-random", "temporal", "temporal-user", "item-cold", "user-cold")


@pytest.fixture(scope="module")
def snapshot(small_graph: Path) -> Snapshot:
    code, report = run_json(["export", "--out", str(small_graph / "leak-snapshot")])
    assert code == 0, report
    return read_snapshot(Path(report["out"]))


def _pairs(frame: pd.DataFrame, rows: np.ndarray) -> set[tuple[int, int]]:
    part = frame.iloc[rows]
    return set(zip(part["src"].tolist(), part["dst"].tolist(), strict=True))


def held_out_events(prepared: Prepared) -> np.ndarray:
    """Per tagging event, whether the split holds it out (the module docstring's definition),
    computed here from the split alone, independently of ``training.context``."""
    split = prepared.split
    assert split is not None
    item_split = split.targets["user_item"]
    interest_split = split.targets["user_interest"]
    items, interests = prepared.targets["user_item"], prepared.targets["user_interest"]
    held_items = _pairs(items, np.r_[item_split.val, item_split.test])
    held_interests = _pairs(interests, np.r_[interest_split.val, interest_split.test])
    kept = _pairs(items, item_split.train)
    cold_items, cold_users = set(split.cold_items.tolist()), set(split.cold_users.tolist())
    out = []
    for user, item, interest, ts in prepared.snapshot.tag_events.itertuples(index=False):
        out.append(
            (user, item) in held_items
            or (user, interest) in held_interests
            or item in cold_items
            or (user in cold_users and (user, item) not in kept)
            or (split.cutoff is not None and ts >= split.cutoff)
        )
    return np.asarray(out, dtype=bool)


def assert_nothing_leaks(prepared: Prepared) -> None:
    snapshot = prepared.snapshot
    events = snapshot.tag_events
    held = held_out_events(prepared)
    assert held.any(), "the fixture must hold some tagging events out"
    names = snapshot.nodes["interest"]["name"].astype(str).to_numpy()
    visible = events[~held]
    # 1. every event-derived item→tag edge is backed by a visible event
    context = prepared.context
    derived = context.has_interest[context.has_interest["source"].isin(EVENT_SOURCES)]
    backed = set(zip(visible["item"].tolist(), visible["interest"].tolist(), strict=True))
    derived_pairs = set(zip(derived["src"].tolist(), derived["dst"].tolist(), strict=True))
    assert derived_pairs <= backed
    # 2. an item text names only catalogue tags and tags of visible events on that item
    catalogue = snapshot.edges["has_interest"]
    catalogue = catalogue[~catalogue["source"].isin(EVENT_SOURCES)]
    allowed: dict[int, set[str]] = {}
    for item, interest in [
        *zip(catalogue["src"].tolist(), catalogue["dst"].tolist(), strict=True),
        *backed,
    ]:
        allowed.setdefault(item, set()).add(str(names[interest]))
    for item, text in enumerate(context.item_texts):
        assert listed_tags(text) <= allowed.get(item, set()), (item, text)
    # 3. held-out answers are not in the message-passing graph
    graph = graph_for(prepared, ModelConfig())
    for target, edge_type in (
        ("user_item", ("user", "user_item", "item")),
        ("user_interest", ("user", "user_interest", "interest")),
    ):
        part = prepared.split.targets[target]
        held_pairs = _pairs(prepared.targets[target], np.r_[part.val, part.test])
        index = graph.edge_index[edge_type].numpy()
        assert not held_pairs & set(zip(index[0].tolist(), index[1].tolist(), strict=True))
    # 4. a training user→tag pair that came from events is backed by a visible event of its
    # own (else user → tag ← item would reach the held-out item its only events were on),
    # and its weight counts visible events only
    interests = prepared.targets["user_interest"]
    train = interests.iloc[prepared.split.targets["user_interest"].train]
    tagged_pairs = set(zip(events["user"].tolist(), events["interest"].tolist(), strict=True))
    visible_counts = visible.groupby(["user", "interest"]).size()
    for user, tag, explicit, weight in zip(
        train["src"], train["dst"], train["explicit"], train["weight"], strict=True
    ):
        if (user, tag) in tagged_pairs and not explicit:
            assert (user, tag) in visible_counts.index, (user, names[tag])
            assert weight == visible_counts[(user, tag)], (user, names[tag])
    # 5. the interest graph holds no co-occurrence counts
    assert set(context.related_to["source"]) <= {"embedding"}
    # 6. canaries of held-out events appear nowhere
    hidden = {str(names[i]) for i in events.loc[held, "interest"] if "canary" in str(names[i])}
    shown = {str(names[i]) for i in visible["interest"]}
    for canary in hidden - shown:
        assert not any(canary in listed_tags(text) for text in context.item_texts), canary


@pytest.mark.parametrize("mode", SPLITS)
def test_no_held_out_event_reaches_the_model(
    snapshot: Snapshot, encoder: TextEncoder, mode: str
) -> None:
    prepared = prepare(snapshot, mode, 0, encoder.encode)
    assert_nothing_leaks(prepared)


def test_cold_items_bring_only_catalogue_facts(snapshot: Snapshot, encoder: TextEncoder) -> None:
    prepared = prepare(snapshot, "item-cold", 0, encoder.encode)
    cold = prepared.split.cold_items
    assert len(cold)
    derived = prepared.context.has_interest
    derived = derived[derived["source"].isin(EVENT_SOURCES)]
    assert not derived["src"].isin(cold).any()
    for item in cold:
        assert "Tags:" not in prepared.context.item_texts[item]
    # without tagged cold items the checks above would prove nothing
    tagged = set(snapshot.tag_events["item"].tolist()) & set(cold.tolist())
    assert tagged, "the fixture must tag some cold items"


def test_cold_users_keep_only_stated_interests_and_tags_of_kept_items(
    snapshot: Snapshot, encoder: TextEncoder
) -> None:
    prepared = prepare(snapshot, "user-cold", 0, encoder.encode)
    split = prepared.split
    interests = prepared.targets["user_interest"]
    train = interests.iloc[split.targets["user_interest"].train]
    kept = _pairs(prepared.targets["user_item"], split.targets["user_item"].train)
    events = snapshot.tag_events
    from_kept = {
        (u, t)
        for u, i, t in zip(events["user"], events["item"], events["interest"], strict=True)
        if (u, i) in kept
    }
    cold_rows = train[train["src"].isin(split.cold_users)]
    assert len(split.cold_users)
    for user, interest, explicit in zip(
        cold_rows["src"], cold_rows["dst"], cold_rows["explicit"], strict=True
    ):
        assert explicit or (user, interest) in from_kept


def test_temporal_split_is_one_global_cutoff(snapshot: Snapshot, encoder: TextEncoder) -> None:
    prepared = prepare(snapshot, "temporal", 0, encoder.encode)
    frame = prepared.targets["user_item"]
    part = prepared.split.targets["user_item"]
    train_ts = frame["ts"].to_numpy()[part.train]
    later = frame["ts"].to_numpy()[np.r_[part.val, part.test]]
    assert train_ts.max() < later.min() == prepared.split.cutoff
