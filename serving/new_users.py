"""Recommendations for a user the graph does not know yet, computed on the fly (nothing is
written to the graph).

The request's items and interests become the new user's edges and its text (built by the same
``features.texts.user_text`` as every training user's, with the self-description appended) its
feature vector through the snapshot's encoder; the user gets no id embedding, exactly like a
cold user at training time. The checkpoint's model then runs one forward pass over the
production graph plus this one node (:meth:`gnn.graph.Graph.with_node`), so the new user is
scored by the same propagation as everyone else, not by an approximation of it. The cost is one
full-graph pass per request (tens of milliseconds on the bundled datasets on CPU). Where the
checkpoint mixes in ``ease``, its item-item weights are fitted on the production graph while
the first request loads the checkpoint (50 s for 9,742 items on one CPU thread beside two other
jobs), under the load's lock, so requests arriving meanwhile wait for that one fit and every
later one reuses it.

torch, PyG and the encoder load on the first request, not at import or start-up.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from training.errors import JobError


class InvalidNewUser(ValueError):
    """The request names ids the model does not know, or nothing at all."""


class ScorerUnavailable(RuntimeError):
    """The checkpoint, its snapshot or the encoder cannot be loaded."""


class NewUserScorer:
    """Inductive scoring with one checkpoint (loaded lazily, once, thread-safely)."""

    def __init__(self, checkpoint: Path, text_model: str, device: str = "cpu"):
        self.checkpoint_path = Path(checkpoint)
        self.text_model = text_model
        self.device = device
        self._lock = threading.Lock()
        self._state: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._state is None:
                try:
                    self._state = _load_state(self.checkpoint_path, self.text_model, self.device)
                except (OSError, ValueError, RuntimeError, JobError) as e:
                    raise ScorerUnavailable(f"new-user scoring is unavailable: {e}") from e
            return self._state

    def score(
        self,
        items: list[str],
        interests: list[str],
        text: str | None,
        target: str,
        k: int,
    ) -> list[tuple[str, str | None, float]]:
        """The top ``k`` ``(id, name, score)`` of ``target`` for the described user, never one
        of the items or interests they named."""
        import torch

        from features.texts import WeightedName, user_text
        from gnn.graph import TARGETS

        if not (items or interests or (text and text.strip())):
            raise InvalidNewUser("name at least one item or interest, or give a text")
        state = self._load()
        item_rows = _rows(state["index"]["item"], items, "items")
        interest_rows = _rows(state["index"]["interest"], interests, "interests")
        names = state["names"]
        description = user_text(
            None,
            [WeightedName(str(names["interest"][r]), 1.0) for r in interest_rows],
            [WeightedName(str(names["item"][r]), 1.0) for r in item_rows],
        )
        if text and text.strip():
            description = text.strip() if not (items or interests) else f"{description} {text}"
        vector = torch.from_numpy(state["encoder"].encode([description], progress=False)[0])
        graph = state["graph"]
        links = {}
        for relation, dst_type, rows in (
            ("user_item", "item", item_rows),
            ("user_interest", "interest", interest_rows),
        ):
            if rows and ("user", relation, dst_type) in graph.edge_index:
                links[("user", relation, dst_type)] = torch.tensor(rows, dtype=torch.long)
        model_target = {"item": "user_item", "interest": "user_interest"}[target]
        if model_target not in state["model"].targets:
            raise InvalidNewUser(f"the checkpoint has no model for target {target!r}")
        extended = graph.with_node("user", vector.to(graph.x["user"].dtype), links)
        with torch.no_grad():
            emb = state["model"].embed(extended)
            row = torch.tensor([graph.num_nodes["user"]])
            scores = state["model"].matrix(emb, model_target, row)[0].float().cpu().numpy()
        dst_type = TARGETS[model_target][1]
        scores[item_rows if dst_type == "item" else interest_rows] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        ids, labels = state["ids"][dst_type], names[dst_type]
        return [
            (str(ids[r]), _text_or_none(labels[r]), float(scores[r]))
            for r in top
            if np.isfinite(scores[r])
        ]


def _rows(index: dict[str, int], ids: list[str], field: str) -> list[int]:
    unknown = [i for i in ids if i not in index]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise InvalidNewUser(f"{field}: unknown id(s) {shown} (not in the model's graph)")
    return sorted({index[i] for i in ids})


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _load_state(checkpoint_path: Path, text_model: str, device: str) -> dict[str, Any]:
    from features.encoder import load_encoder
    from gnn.models import fit_partners
    from training.batch_predict import production_graph
    from training.checkpoint import check_snapshot, load_checkpoint
    from training.jobs import open_snapshot

    checkpoint = load_checkpoint(checkpoint_path)
    snapshot = open_snapshot(checkpoint.snapshot_path)
    check_snapshot(checkpoint, snapshot, checkpoint.snapshot_path)
    graph, _ = production_graph(checkpoint, snapshot)
    model = checkpoint.scorer(graph).eval()
    fit_partners(model)
    encoder = load_encoder(text_model, device)
    if encoder.model_id != snapshot.manifest.get("embedding_model"):
        raise ScorerUnavailable(
            f"the snapshot was embedded with {snapshot.manifest.get('embedding_model')}, the "
            f"serving encoder is {encoder.model_id}"
        )
    ids = {t: snapshot.nodes[t]["id"].astype(str).to_numpy() for t in ("item", "interest")}
    return {
        "graph": graph,
        "model": model,
        "encoder": encoder,
        "ids": ids,
        "index": {t: {v: r for r, v in enumerate(ids[t])} for t in ids},
        "names": {t: snapshot.nodes[t]["name"].to_numpy() for t in ("item", "interest")},
    }
