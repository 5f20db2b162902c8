"""The LightGCN-style propagation of :class:`~gnn.encoders.HeteroEncoder` as DGL message passing.

The PyG backend multiplies by one symmetric-normalised adjacency ``D^-1/2 A D^-1/2`` over every
node type at once (:meth:`gnn.graph.Graph.adjacency`). Here the same operator is built from a
``dgl.heterograph`` with one message function per relation: each source row is scaled by
``deg^-1/2``, every relation sums its messages into its destination type (``multi_update_all``),
and the sum is scaled by ``deg^-1/2`` again, the degree counting every relation's edges as the
adjacency does. The two agree to float rounding (``tests/dgl``), so a model trained on either
backend has the same parameters and is scored by either.

DGL is imported only here and only when this backend is asked for: PyPI's DGL 2.1.0 runs with
torch ≤ 2.2.1 only, so it lives in its own environment (``make setup-dgl``).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from gnn.graph import EdgeType, Graph

SETUP_HINT = (
    "the DGL backend needs DGL 2.1.0, which runs only with torch <= 2.2.1, in its own "
    "environment: run `make setup-dgl`, then `.venv-dgl/bin/interestgraph train --backend dgl …`"
)


def import_dgl() -> Any:
    """The ``dgl`` module, or an :class:`ImportError` that says how to get the environment."""
    # without it DGL 2.1 prints a notice and writes ~/.dgl/config.json on first import
    os.environ.setdefault("DGLBACKEND", "pytorch")
    try:
        import dgl
    except (ImportError, OSError) as error:  # OSError: DGL's native library for another torch
        raise ImportError(f"{SETUP_HINT} ({type(error).__name__}: {error})") from error
    return dgl


class DGLPropagation:
    """One propagation step over ``graph``'s relations (less ``exclude``), on DGL.

    Built once per graph and reused at every step; with ``hidden`` and ``other`` node masks per
    type, the edges between a hidden and an other node weigh zero and the degrees are
    recounted, as :meth:`Graph.adjacency` renormalises for cold-item training.
    """

    def __init__(self, graph: Graph, exclude: frozenset[str]):
        dgl = import_dgl()
        self.graph = graph
        self.edge_types: list[EdgeType] = graph.edge_types(exclude)
        device = next(iter(graph.edge_index.values())).device
        self.hetero = dgl.heterograph(
            {e: (graph.edge_index[e][0], graph.edge_index[e][1]) for e in self.edge_types},
            num_nodes_dict=dict(graph.num_nodes),
            device=device,
        )
        self._function = dgl.function  # built-in message and reduce functions
        self._scale = self._inverse_sqrt_degrees(None)

    def __call__(
        self,
        h: dict[str, Tensor],
        hidden: dict[str, Tensor] | None = None,
        other: dict[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """``D^-1/2 A D^-1/2`` applied to the per-type rows ``h``."""
        function = self._function
        weights = self._edge_weights(hidden, other) if hidden and other else None
        scale = self._scale if weights is None else self._inverse_sqrt_degrees(weights)
        with self.hetero.local_scope():
            for node_type, rows in h.items():
                self.hetero.nodes[node_type].data["h"] = rows * scale[node_type].unsqueeze(-1)
            messages = {}
            for edge_type in self.edge_types:
                if weights is None:
                    message = function.copy_u("h", "m")
                else:
                    self.hetero.edges[edge_type].data["w"] = weights[edge_type].unsqueeze(-1)
                    message = function.u_mul_e("h", "w", "m")
                messages[edge_type] = (message, function.sum("m", "out"))
            self.hetero.multi_update_all(messages, "sum")
            return {
                t: self.hetero.nodes[t].data["out"] * scale[t].unsqueeze(-1)
                if "out" in self.hetero.nodes[t].data
                else torch.zeros_like(rows)
                for t, rows in h.items()
            }

    def _edge_weights(
        self, hidden: dict[str, Tensor], other: dict[str, Tensor]
    ) -> dict[EdgeType, Tensor]:
        """1 per edge, 0 for an edge joining a hidden node and an other node."""
        weights = {}
        for edge_type in self.edge_types:
            src_type, _, dst_type = edge_type
            src, dst = self.graph.edge_index[edge_type]
            gone = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
            if src_type in hidden and dst_type in other:
                gone |= hidden[src_type][src] & other[dst_type][dst]
            if src_type in other and dst_type in hidden:
                gone |= other[src_type][src] & hidden[dst_type][dst]
            weights[edge_type] = (~gone).float()
        return weights

    def _inverse_sqrt_degrees(self, weights: dict[EdgeType, Tensor] | None) -> dict[str, Tensor]:
        """``deg^-1/2`` per node type, a node's degree summed over every relation (its
        in-degree, which equals its out-degree: every relation is there both ways); a node
        without edges keeps 1, as the adjacency's clamp does."""
        device = next(iter(self.graph.edge_index.values())).device
        degree = {t: torch.zeros(n, device=device) for t, n in self.graph.num_nodes.items()}
        for edge_type in self.edge_types:
            dst_type = edge_type[2]
            dst = self.graph.edge_index[edge_type][1]
            counts = weights[edge_type] if weights is not None else torch.ones_like(dst).float()
            degree[dst_type].index_add_(0, dst, counts)
        return {t: d.clamp(min=1).pow(-0.5) for t, d in degree.items()}
