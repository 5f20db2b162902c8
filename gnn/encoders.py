"""Heterogeneous node encoders: LLM-feature projections plus optional id embeddings, then
message passing over users, items and interests.

``conv="lgc"`` (LightGCN-style propagation, the default) propagates with the
symmetric-normalised adjacency and no weights or non-linearities between layers, averaging
the layers: what makes LightGCN strong on collaborative signal, here over a graph that also
holds interests, and fed by text. ``sage``, ``gatv2`` and ``hgt`` are PyG's relation-aware
layers (``HeteroConv`` / ``HGTConv``) with a non-linearity between layers and the same layer
averaging.

``backend="dgl"`` runs the ``lgc`` propagation as DGL message passing
(:mod:`gnn.dgl_propagation`): the same operator, so the same parameters, trained in DGL's own
environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv, HeteroConv, HGTConv, SAGEConv

from gnn.graph import EdgeType, Graph, propagate

if TYPE_CHECKING:
    from gnn.dgl_propagation import DGLPropagation

CONVS = ("lgc", "sage", "gatv2", "hgt")
BACKENDS = ("pyg", "dgl")


class HeteroEncoder(nn.Module):
    """Node embeddings for every node type of a :class:`~gnn.graph.Graph`.

    Args:
        num_nodes: nodes per type (fixes the id embedding tables).
        feature_dim: size of the LLM features, or ``None`` to use id embeddings only.
        edge_types: the graph's edge types (for the relation-aware convolutions).
        dim: embedding size.
        layers: propagation layers (0 = no propagation: matrix factorisation when ids only).
        conv: one of :data:`CONVS`.
        use_ids: add a learned id embedding to nodes seen in training.
        heads: attention heads for ``gatv2`` and ``hgt``.
        dropout: dropout on the input embeddings.
        exclude: relations (e.g. ``has_interest``) this encoder does not propagate over, so
            variants of one model (LightGCN-equivalent, no interests) share one graph.
        noise: (``lgc`` only) magnitude of the random perturbation added at every layer during
            training, as in XSimGCL (Yu et al., TKDE 2023); the first layer's perturbed output
            is kept in ``contrast_view`` for a contrastive loss against the final embeddings.
        cold_items: (``lgc`` only) share of the items trained as if cold at each training step,
            DropoutNet-style (Volkovs et al., NeurIPS 2017): their id embeddings are hidden and
            their user edges left out of propagation, while their training edges still count
            in the loss, so the text and interest path learns to carry a score on its own —
            the only path a new item has.
        backend: ``pyg`` (sparse matrix products) or ``dgl`` (``lgc`` only; needs the DGL
            environment).
    """

    def __init__(
        self,
        num_nodes: dict[str, int],
        feature_dim: int | None,
        edge_types: list[EdgeType],
        dim: int = 64,
        layers: int = 3,
        conv: str = "lgc",
        use_ids: bool = True,
        heads: int = 2,
        dropout: float = 0.0,
        noise: float = 0.0,
        cold_items: float = 0.0,
        exclude: frozenset[str] = frozenset(),
        backend: str = "pyg",
    ):
        super().__init__()
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {', '.join(CONVS)}, got {conv!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "dgl" and conv != "lgc":
            raise ValueError(f"the DGL backend runs conv='lgc' only, got {conv!r}")
        if feature_dim is None and not use_ids:
            raise ValueError("an encoder needs LLM features, id embeddings or both")
        if not 0.0 <= cold_items < 1.0:
            raise ValueError(f"cold_items must be in [0, 1), got {cold_items}")
        if cold_items and (conv != "lgc" or feature_dim is None or "item" not in num_nodes):
            raise ValueError("cold_items needs conv='lgc', LLM features and item nodes")
        self.node_types = list(num_nodes)
        self.conv = conv
        self.layers = layers
        self.use_ids = use_ids
        self.dropout = nn.Dropout(dropout)
        self.noise = noise
        self.cold_items = cold_items
        self.exclude = frozenset(exclude)
        self.backend = backend
        self._dgl: DGLPropagation | None = None
        edge_types = [e for e in edge_types if e[1].removeprefix("rev_") not in self.exclude]
        self.contrast_view: dict[str, Tensor] | None = None
        #: the last forward's layer-0 embeddings (what L2 regularisation applies to)
        self.ego: dict[str, Tensor] = {}
        self.ids = nn.ModuleDict(
            {t: nn.Embedding(n, dim) for t, n in num_nodes.items()} if use_ids else {}
        )
        for table in self.ids.values():
            nn.init.normal_(table.weight, std=0.1)
        self.project = nn.ModuleDict(
            {t: nn.Linear(feature_dim, dim, bias=False) for t in num_nodes}
            if feature_dim is not None
            else {}
        )
        self.convs = nn.ModuleList(
            []
            if conv == "lgc"
            else [_hetero_layer(conv, dim, heads, num_nodes, edge_types) for _ in range(layers)]
        )

    def inputs(self, graph: Graph, hidden: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Layer-0 embeddings: projected text features plus (masked) id embeddings; rows
        marked in ``hidden`` get no id embedding."""
        out: dict[str, Tensor] = {}
        for node_type in self.node_types:
            parts = []
            if self.project:
                parts.append(self.project[node_type](graph.x[node_type]))
            if self.use_ids:
                ids = self.ids[node_type].weight
                added = graph.num_nodes[node_type] - len(ids)
                if added > 0:  # nodes added after training (a new user served inductively)
                    ids = torch.cat([ids, ids.new_zeros(added, ids.shape[1])])
                mask = graph.id_mask.get(node_type)
                if hidden is not None and node_type in hidden:
                    mask = ~hidden[node_type] if mask is None else mask & ~hidden[node_type]
                parts.append(ids * mask.unsqueeze(-1).to(ids.dtype) if mask is not None else ids)
            out[node_type] = self.dropout(torch.stack(parts).sum(0))
        return out

    def forward(self, graph: Graph) -> dict[str, Tensor]:
        hidden = self._draw_cold(graph) if self.training and self.cold_items > 0 else None
        h = self.inputs(graph, hidden)
        self.ego = h
        if self.layers == 0:
            return h
        if self.conv == "lgc":
            return self._propagate(graph, h, hidden)
        layers = [h]
        for index, layer in enumerate(self.convs):
            edges = {e: graph.edge_index[e] for e in graph.edge_types(self.exclude)}
            out = layer(layers[-1], edges)
            out = {t: out.get(t, layers[-1][t]) for t in self.node_types}
            if index < len(self.convs) - 1:
                out = {t: torch.nn.functional.leaky_relu(v, 0.2) for t, v in out.items()}
            layers.append(out)
        return {t: torch.stack([layer[t] for layer in layers]).mean(0) for t in self.node_types}

    def _draw_cold(self, graph: Graph) -> dict[str, Tensor]:
        """This step's items to train as cold (drawn with torch's global generator, which
        training seeds)."""
        device = graph.edge_index[next(iter(graph.edge_index))].device
        return {"item": torch.rand(graph.num_nodes["item"], device=device) < self.cold_items}

    def _flat(self, graph: Graph, rows: dict[str, Tensor]) -> Tensor:
        """Per-type boolean rows as one mask over the flattened nodes (absent types False)."""
        device = next(iter(rows.values())).device
        return torch.cat(
            [
                rows.get(t, torch.zeros(graph.num_nodes[t], dtype=torch.bool, device=device))
                for t in self.node_types
            ]
        )

    def _step(self, graph: Graph, hidden: dict[str, Tensor] | None) -> Callable[[Tensor], Tensor]:
        """One propagation step over the flattened node rows, on this encoder's backend; with
        ``hidden`` (cold items), their edges to users are left out and the rest renormalised."""
        other = None
        if hidden is not None:
            device = next(iter(hidden.values())).device
            other = {"user": torch.ones(graph.num_nodes["user"], dtype=torch.bool, device=device)}
        if self.backend == "dgl":
            if self._dgl is None or self._dgl.graph is not graph:
                from gnn.dgl_propagation import DGLPropagation

                self._dgl = DGLPropagation(graph, self.exclude)
            dgl_step = self._dgl
            return lambda x: torch.cat(
                list(dgl_step(self._by_type(x, graph), hidden, other).values())
            )
        if hidden is None or other is None:
            adjacency = graph.adjacency(self.exclude)
        else:
            adjacency = graph.adjacency(
                self.exclude, self._flat(graph, hidden), self._flat(graph, other)
            )
        return lambda x: propagate(adjacency, x)

    def _propagate(
        self, graph: Graph, h: dict[str, Tensor], hidden: dict[str, Tensor] | None = None
    ) -> dict[str, Tensor]:
        step = self._step(graph, hidden)
        perturb = self.training and self.noise > 0
        device_type = h[self.node_types[0]].device.type
        with torch.autocast(device_type=device_type, enabled=False):
            x = torch.cat([h[t].float() for t in self.node_types])
            total, first = x, None
            for _ in range(self.layers):
                x = step(x)
                if perturb:
                    noise = torch.nn.functional.normalize(torch.rand_like(x), dim=-1)
                    x = x + torch.sign(x) * noise * self.noise
                first = x if first is None else first
                total = total + x
            total = total / (self.layers + 1)
        self.contrast_view = self._by_type(first, graph) if perturb else None
        return self._by_type(total, graph)

    def _by_type(self, flat: Tensor, graph: Graph) -> dict[str, Tensor]:
        out, start = {}, 0
        for node_type in self.node_types:
            count = graph.num_nodes[node_type]
            out[node_type] = flat[start : start + count]
            start += count
        return out


def _hetero_layer(
    conv: str, dim: int, heads: int, num_nodes: dict[str, int], edge_types: list[EdgeType]
) -> nn.Module:
    if conv == "hgt":
        return HGTConv(dim, dim, (list(num_nodes), edge_types), heads=heads)
    if conv == "sage":
        return HeteroConv({e: SAGEConv((dim, dim), dim) for e in edge_types}, aggr="sum")
    return HeteroConv(
        {
            e: GATv2Conv((dim, dim), dim // heads, heads=heads, add_self_loops=False)
            for e in edge_types
        },
        aggr="sum",
    )
