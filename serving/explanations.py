"""Raw graph paths → ranked, readable explanations.

Ranking rule (the README's "Why this recommendation"): a path's score is
``Π_m 1/ln(2 + fan_out(m)) × Π_e weight(e)`` over its middle nodes ``m`` and its ``RELATED_TO``
edges ``e``, where ``fan_out(m)`` is the middle node's degree over the relationship leading on
toward the candidate. It is the resource-allocation / Adamic–Adar idea: a shared interest that
few items carry (``heist``) explains more than one that thousands carry (``drama``), a rarely
rated film shared with another user says more than a blockbuster. Paths of every kind are
merged and the best ``limit`` kept; ties go to the path through the user's strongest edge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from graphdb.explanations import best_paths
from serving.schemas import Explanation, PathNode, PathRelationship, PathScore

#: node labels along each kind of path, user first, candidate last
_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "item": {
        "shared_interest": ("User", "Item", "Interest", "Item"),
        "held_interest": ("User", "Interest", "Item"),
        "related_interest": ("User", "Interest", "Interest", "Item"),
        "similar_users": ("User", "Item", "User", "Item"),
        "friend": ("User", "User", "Item"),
    },
    "interest": {
        "via_items": ("User", "Item", "Interest"),
        "related_interest": ("User", "Interest", "Interest"),
        "similar_users": ("User", "Item", "User", "Interest"),
        "friend": ("User", "User", "Interest"),
    },
}

_SENTENCES: dict[str, dict[str, str]] = {
    "item": {
        "shared_interest": "{c} shares “{n2}” with {n1}, which you engaged with.",
        "held_interest": "{c} is about “{n1}”, one of your interests.",
        "related_interest": "{c} is about “{n2}”, related to your interest “{n1}”.",
        "similar_users": "{n2} also engaged with {n1}, as you did, and with {c}.",
        "friend": "Your friend {n1} engaged with {c}.",
    },
    "interest": {
        "via_items": "{n1}, which you engaged with, is about “{c}”.",
        "related_interest": "“{c}” is related to your interest “{n1}”.",
        "similar_users": "{n2} also engaged with {n1}, as you did, and is into “{c}”.",
        "friend": "Your friend {n1} is into “{c}”.",
    },
}


def specificity(fan_out: int) -> float:
    """How much a middle node with ``fan_out`` ways onward says about this one pair."""
    return 1.0 / math.log(2 + fan_out)


def build_explanation(
    target: str, raw: dict[str, Any], user_name: str | None, candidate_name: str | None
) -> Explanation:
    """One raw path of :mod:`graphdb.explanations` as an :class:`Explanation` (its score as
    Neo4j computed it; the components say how)."""
    kind = raw["kind"]
    labels = _LABELS[target][kind]
    names = list(raw["names"])
    names[0], names[-1] = user_name, candidate_name
    nodes = [
        PathNode(id=node_id, label=label, name=name)
        for node_id, label, name in zip(raw["nodes"], labels, names, strict=True)
    ]
    fans = [int(f) for f in raw["fans"]]
    shown = [n.name or (f"user {n.id}" if n.label == "User" else n.id) for n in nodes]
    fields = {f"n{k}": shown[k] for k in range(1, len(shown) - 1)}
    return Explanation(
        kind=kind,
        nodes=nodes,
        relationships=[PathRelationship(type=t, start=s, end=e) for t, s, e in raw["rels"]],
        score=round(float(raw["score"]), 6),
        components=PathScore(
            fan_outs=fans,
            specificity=[round(specificity(f), 6) for f in fans],
            relation_weights=[float(w) for w in raw["weights"]],
            user_edge_weight=raw.get("user_weight"),
        ),
        sentence=_SENTENCES[target][kind].format(c=shown[-1], **fields),
    )


def best_explanations(
    target: str,
    raws: Iterable[dict[str, Any]],
    user_name: str | None,
    candidate_name: str | None,
    limit: int,
) -> list[Explanation]:
    """The ``limit`` best explanations of one (user, candidate) pair, every kind merged."""
    return [
        build_explanation(target, raw, user_name, candidate_name) for raw in best_paths(raws, limit)
    ]


def without_first_hop(explanation: Explanation) -> Explanation:
    """The path less its first node and relationship: for a user the graph does not know,
    whose own edges were only provisional."""
    return explanation.model_copy(
        update={
            "nodes": explanation.nodes[1:],
            "relationships": explanation.relationships[1:],
        }
    )
