"""From a snapshot and a split to the model's :class:`~gnn.graph.Graph`, using training edges only.

The two target relations become ``user_item`` and ``user_interest`` edges (deduplicated). The
context relations come from :class:`training.context.TrainingContext`: item→interest edges and
the interest graph rebuilt from training events, friendships as they are. User features are
text embeddings of user texts rebuilt from training edges (see :func:`user_texts`), item
features embeddings of item texts rebuilt from training events, so a held-out edge never
reaches a feature.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from features.texts import WeightedName, user_text
from gnn.graph import TARGETS, EdgeType, Graph
from graphdb.snapshot import Snapshot
from training.context import TrainingContext
from training.splits import Split

#: target name → snapshot relation
TARGET_RELATIONS = {"user_item": "interacted", "user_interest": "interested_in"}
#: context relation → (source type, destination type)
CONTEXT_RELATIONS = {
    "has_interest": ("item", "interest"),
    "friend": ("user", "user"),
    "related_to": ("interest", "interest"),
}
#: INTERESTED_IN sources a user states themselves (what a new user brings)
EXPLICIT_SOURCES = frozenset({"explicit"})

TextEncoderFn = Callable[[list[str]], np.ndarray]


def target_edges(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """The target relations' edges, one row per (source, destination) pair (the heaviest);
    ``explicit`` says whether any edge of the pair was stated by the user."""
    out = {}
    for target, relation in TARGET_RELATIONS.items():
        frame = snapshot.edges[relation]
        explicit = frame.assign(explicit=frame["source"].isin(EXPLICIT_SOURCES))
        stated = explicit.groupby(["src", "dst"])["explicit"].any()
        frame = frame.sort_values(["src", "dst", "weight"], ascending=[True, True, False])
        frame = frame.drop_duplicates(["src", "dst"]).reset_index(drop=True)
        frame["explicit"] = stated.reindex(
            pd.MultiIndex.from_frame(frame[["src", "dst"]])
        ).to_numpy(dtype=bool)
        out[target] = frame
    return out


def training_pairs(targets: dict[str, pd.DataFrame], split: Split | None) -> dict[str, np.ndarray]:
    """``[2, E]`` index arrays of the training edges per target (all edges when no split)."""
    out = {}
    for target, frame in targets.items():
        rows = split.targets[target].train if split is not None else np.arange(len(frame))
        out[target] = frame[["src", "dst"]].to_numpy()[rows].T.astype(np.int64)
    return out


def user_texts(
    snapshot: Snapshot,
    targets: dict[str, pd.DataFrame],
    pairs: dict[str, np.ndarray],
    use_profiles: bool = False,
) -> list[str]:
    """Each user's text from the given pairs only (strongest interests and items by edge
    weight, as ``features.texts.user_text`` ranks them), or from the supplied profile when
    ``use_profiles``: only safe when the profiles were written from training data alone (as
    CoLaKG's were, for its own split); a profile written from all edges leaks the test set."""
    users = snapshot.nodes["user"]
    names = {
        "user_item": snapshot.nodes["item"]["name"].to_numpy(),
        "user_interest": snapshot.nodes["interest"]["name"].to_numpy(),
    }
    per_user: dict[str, list[list[WeightedName]]] = {
        t: [[] for _ in range(len(users))] for t in TARGETS
    }
    for target, frame in targets.items():
        weight = dict(
            zip(zip(frame["src"], frame["dst"], strict=True), frame["weight"], strict=True)
        )
        for src, dst in pairs[target].T:
            per_user[target][src].append(
                WeightedName(str(names[target][dst]), float(weight[(src, dst)]))
            )
    # users without a profile read back from Parquet as null (NaN): they fall back to edges
    profiles = (
        [p if isinstance(p, str) else None for p in users["profile"]]
        if use_profiles
        else [None] * len(users)
    )
    return [
        user_text(profiles[u], per_user["user_interest"][u], per_user["user_item"][u])
        for u in range(len(users))
    ]


def context_edges(snapshot: Snapshot, context: TrainingContext) -> dict[str, pd.DataFrame]:
    """The context relations' edge tables for one split: derived ones from ``context``."""
    return {
        "has_interest": context.has_interest,
        "friend": snapshot.edges["friend"],
        "related_to": context.related_to,
    }


def build_graph(
    snapshot: Snapshot,
    pairs: dict[str, np.ndarray],
    features: dict[str, np.ndarray],
    context: dict[str, pd.DataFrame],
    use_interests: bool = True,
) -> Graph:
    """The message-passing graph over ``pairs`` (training edges) plus the ``context`` relations
    (:func:`context_edges`); ``features`` holds each node type's text embeddings."""
    num_nodes = {t: snapshot.num_nodes(t) for t in ("user", "item", "interest")}
    if not use_interests:
        num_nodes.pop("interest")
    edge_index: dict[EdgeType, torch.Tensor] = {}
    for target, (src_type, dst_type) in TARGETS.items():
        if dst_type in num_nodes:
            _add_both_ways(edge_index, src_type, target, dst_type, pairs[target])
    for relation, (src_type, dst_type) in CONTEXT_RELATIONS.items():
        frame = context[relation]
        if src_type in num_nodes and dst_type in num_nodes and len(frame):
            index = np.unique(frame[["src", "dst"]].to_numpy(), axis=0).T
            _add_both_ways(edge_index, src_type, relation, dst_type, index)
    x = {
        t: torch.from_numpy(np.ascontiguousarray(features[t], dtype=np.float32)) for t in num_nodes
    }
    return Graph(num_nodes, edge_index, x, _id_masks(num_nodes, edge_index, pairs))


def _add_both_ways(
    edge_index: dict[EdgeType, torch.Tensor], src: str, name: str, dst: str, index: np.ndarray
) -> None:
    tensor = torch.from_numpy(np.ascontiguousarray(index, dtype=np.int64))
    edge_index[(src, name, dst)] = tensor
    edge_index[(dst, f"rev_{name}", src)] = tensor.flip(0)


def _id_masks(
    num_nodes: dict[str, int],
    edge_index: dict[EdgeType, torch.Tensor],
    pairs: dict[str, np.ndarray],
) -> dict[str, torch.Tensor]:
    """Users and items with a training target edge; interests with any training-graph edge."""
    masks = {t: torch.zeros(n, dtype=torch.bool) for t, n in num_nodes.items()}
    for target, (src_type, dst_type) in TARGETS.items():
        if dst_type in num_nodes:
            masks[src_type][torch.from_numpy(pairs[target][0])] = True
            masks[dst_type][torch.from_numpy(pairs[target][1])] = True
    if "interest" in num_nodes:
        for (_, _, dst_type), index in edge_index.items():
            if dst_type == "interest":
                masks["interest"][index[1]] = True
    return masks
