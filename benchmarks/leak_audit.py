"""Audit what a split hands the model for the tag leak the honest-evaluation issue measured.

For every held-out (user, tag) answer of ``user_interest`` (test part): is it reachable as
user →INTERACTED→ item →HAS_INTEREST→ tag over the *training* graph the model sees, and does
that item→tag edge exist only because this same user applied the tag? It prints both shares
for the edges the model sees (``training.context``) and, for comparison, for the folded graph
edges as exported (what training used before events were kept). Also counts tags in item texts
that only held-out events could have put there. No encoder is needed: texts are audited as
strings.

    python benchmarks/leak_audit.py --snapshot ~/.interestgraph/snapshot --split user-random
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from features.texts import listed_tags
from graphdb.snapshot import read_snapshot
from training.experiment import prepare


def reach_shares(
    held: pd.DataFrame, train_items: pd.DataFrame, item_tags: pd.DataFrame, events: pd.DataFrame
) -> dict[str, float]:
    """Shares of held-out (user, tag) pairs rebuildable via a training item, and via an
    item→tag edge backed only by the same user's own events."""
    path = train_items.merge(item_tags, left_on="dst", right_on="src", suffixes=("", "_t"))
    path = path.rename(columns={"src": "user", "dst": "item", "dst_t": "tag"})[
        ["user", "item", "tag"]
    ]
    reached = held.merge(path, left_on=["src", "dst"], right_on=["user", "tag"])
    taggers = events.groupby(["item", "interest"])["user"].agg(lambda u: frozenset(u))
    only_self = [
        taggers.get((item, tag), frozenset()) == frozenset({user})
        for user, item, tag in reached[["user", "item", "tag"]].itertuples(index=False)
    ]
    reached = reached.assign(only_self=only_self)
    by_pair = reached.groupby(["user", "tag"])["only_self"].any()
    return {
        "held_out_pairs": len(held),
        "reachable": round(by_pair.size / max(len(held), 1), 4),
        "reachable_only_through_own_event": round(int(by_pair.sum()) / max(len(held), 1), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--split", default="user-random")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    snapshot = read_snapshot(args.snapshot)
    dims = snapshot.embeddings["item"].shape[1]
    prepared = prepare(
        snapshot, args.split, args.seed, lambda texts: np.zeros((len(texts), dims), np.float32)
    )
    split = prepared.split
    interests = prepared.targets["user_interest"]
    held = interests.iloc[split.targets["user_interest"].test][["src", "dst"]]
    items = prepared.targets["user_item"].iloc[split.targets["user_item"].train][["src", "dst"]]
    events = snapshot.tag_events
    folded = snapshot.edges["has_interest"][["src", "dst"]]
    seen = prepared.context.has_interest[["src", "dst"]]
    names = snapshot.nodes["interest"]["name"].astype(str).to_numpy()
    visible = events[prepared.context.events]
    visible_tags = {
        (int(i), str(names[t])) for i, t in zip(visible["item"], visible["interest"], strict=True)
    }
    catalogue = prepared.context.has_interest
    allowed = visible_tags | {
        (int(i), str(names[t])) for i, t in zip(catalogue["src"], catalogue["dst"], strict=True)
    }
    leaked_text_tags = sum(
        1
        for item, text in enumerate(prepared.context.item_texts)
        for tag in listed_tags(text)
        if (item, tag) not in allowed
    )
    report = {
        "snapshot": str(args.snapshot),
        "split": args.split,
        "seed": args.seed,
        "events": len(events),
        "training_events": int(prepared.context.events.sum()),
        "folded_graph_edges": reach_shares(held, items, folded, events),
        "edges_the_model_sees": reach_shares(held, items, seen, visible),
        "item_text_tags_not_from_catalogue_or_training_events": leaked_text_tags,
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
