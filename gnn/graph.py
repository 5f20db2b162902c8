"""The training graph as the models see it: features, typed edges, and the normalised adjacency.

Built once per split by ``training`` (from training edges only) and moved to the device once;
every model reads what it needs from it, so all models propagate over exactly the same graph.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

EdgeType = tuple[str, str, str]

#: prediction target → (source node type, destination node type)
TARGETS: dict[str, tuple[str, str]] = {
    "user_item": ("user", "item"),
    "user_interest": ("user", "interest"),
}


@dataclass
class Graph:
    """A heterogeneous graph with every relation also present reversed (``rev_<name>``).

    ``id_mask[t]`` marks the nodes allowed a learned id embedding: those with at least one
    training edge. Cold nodes get none, so a model must rank them from their text and their
    edges, never from an untrained random vector.
    """

    num_nodes: dict[str, int]
    edge_index: dict[EdgeType, Tensor]
    x: dict[str, Tensor] = field(default_factory=dict)
    id_mask: dict[str, Tensor] = field(default_factory=dict)
    _adjacency: dict[frozenset[str], Tensor] = field(default_factory=dict)
    _links: dict[frozenset[str], Tensor] = field(default_factory=dict)

    @property
    def node_types(self) -> list[str]:
        return list(self.num_nodes)

    @property
    def metadata(self) -> tuple[list[str], list[EdgeType]]:
        return self.node_types, list(self.edge_index)

    @property
    def offsets(self) -> dict[str, int]:
        out, start = {}, 0
        for node_type in self.node_types:
            out[node_type] = start
            start += self.num_nodes[node_type]
        return out

    def adjacency(
        self,
        exclude: frozenset[str] = frozenset(),
        hidden: Tensor | None = None,
        other: Tensor | None = None,
    ) -> Tensor:
        """Symmetric-normalised adjacency ``D^-1/2 A D^-1/2`` over all node types (CSR),
        the propagation matrix of LightGCN extended to users, items and interests; relations
        named in ``exclude`` (and their reverses) are left out. Cached per ``exclude``.

        With ``hidden`` and ``other`` (boolean masks over the flattened node rows, in
        :attr:`offsets` order), every edge between a hidden node and an other node is left out
        and the rest renormalised: how a node that has lost those edges, a cold item without
        interactions, propagates. That matrix is rebuilt on each call from the cached edge
        counts with their sparsity pattern kept, a few element-wise passes over the non-zeros,
        cheap enough to redraw at every training step.
        """
        if exclude not in self._links:
            self._links[exclude] = _link_counts(self, exclude)
        if hidden is not None and other is not None:
            return _normalise(self._links[exclude], hidden, other)
        if exclude not in self._adjacency:
            self._adjacency[exclude] = _normalise(self._links[exclude])
        return self._adjacency[exclude]

    def edge_types(self, exclude: frozenset[str] = frozenset()) -> list[EdgeType]:
        """The edge types, less the relations in ``exclude`` and their reverses."""
        return [e for e in self.edge_index if relation_name(e) not in exclude]

    def with_node(self, node_type: str, x: Tensor, links: dict[EdgeType, Tensor]) -> Graph:
        """A copy with one more ``node_type`` node (features ``x``, no id embedding) linked by
        each ``(node_type, relation, dst_type)`` in ``links`` to the given destination rows,
        in both directions: how a user the graph does not know is scored inductively."""
        row = self.num_nodes[node_type]
        edge_index = dict(self.edge_index)
        for (src_type, relation, dst_type), dst in links.items():
            if src_type != node_type or (src_type, relation, dst_type) not in edge_index:
                raise ValueError(f"no relation {(src_type, relation, dst_type)} in the graph")
            new = torch.stack([torch.full_like(dst, row), dst])
            forward = (src_type, relation, dst_type)
            reverse = (dst_type, f"rev_{relation}", src_type)
            edge_index[forward] = torch.cat([edge_index[forward], new], 1)
            edge_index[reverse] = torch.cat([edge_index[reverse], new.flip(0)], 1)
        features = dict(self.x)
        if node_type in features:
            features[node_type] = torch.cat([features[node_type], x.reshape(1, -1)])
        masks = dict(self.id_mask)
        if node_type in masks:
            masks[node_type] = torch.cat([masks[node_type], masks[node_type].new_zeros(1)])
        return Graph({**self.num_nodes, node_type: row + 1}, edge_index, features, masks)

    def to(self, device: torch.device | str) -> Graph:
        moved = replace(
            self,
            edge_index={k: v.to(device) for k, v in self.edge_index.items()},
            x={k: v.to(device) for k, v in self.x.items()},
            id_mask={k: v.to(device) for k, v in self.id_mask.items()},
            _adjacency={k: v.to(device) for k, v in self._adjacency.items()},
            _links={k: v.to(device) for k, v in self._links.items()},
        )
        return moved


def relation_name(edge_type: EdgeType) -> str:
    """``("item", "rev_has_interest", "user")`` → ``"has_interest"``."""
    return edge_type[1].removeprefix("rev_")


def _link_counts(graph: Graph, exclude: frozenset[str]) -> Tensor:
    """How many edges join each pair of nodes (CSR over the flattened node rows)."""
    offsets = graph.offsets
    total = sum(graph.num_nodes.values())
    rows, cols = [], []
    for edge_type in graph.edge_types(exclude):
        src_type, _, dst_type = edge_type
        index = graph.edge_index[edge_type]
        rows.append(index[0] + offsets[src_type])
        cols.append(index[1] + offsets[dst_type])
    device = next(iter(graph.edge_index.values())).device
    row = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long, device=device)
    col = torch.cat(cols) if cols else torch.zeros(0, dtype=torch.long, device=device)
    coo = torch.sparse_coo_tensor(
        torch.stack([row, col]),
        torch.ones(len(row), device=device),
        (total, total),
        check_invariants=False,
    )
    with warnings.catch_warnings():  # torch calls CSR "beta" on every conversion
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.coalesce().to_sparse_csr()


def _normalise(counts: Tensor, hidden: Tensor | None = None, other: Tensor | None = None) -> Tensor:
    """``D^-1/2 A D^-1/2`` of an edge-count matrix, less the hidden–other edges if given.
    Every relation is present in both directions, so in-degree = out-degree."""
    crow, col, count = counts.crow_indices(), counts.col_indices(), counts.values()
    row = torch.repeat_interleave(
        torch.arange(len(crow) - 1, device=crow.device), crow[1:] - crow[:-1]
    )
    if hidden is not None and other is not None:
        gone = (hidden[row] & other[col]) | (other[row] & hidden[col])
        count = count.masked_fill(gone, 0.0)
    degree = torch.zeros(len(crow) - 1, device=count.device).index_add_(0, row, count)
    inv_sqrt = degree.clamp(min=1).pow(-0.5)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            crow, col, inv_sqrt[row] * inv_sqrt[col] * count, counts.shape, check_invariants=False
        )


class _SymmetricSpMM(torch.autograd.Function):
    """``A @ x`` for a constant symmetric sparse ``A``: the gradient is ``A @ grad`` again.

    torch's generic sparse backward transposes the CSR matrix at every step, which costs
    several times the product itself on CPU; symmetry makes that unnecessary.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, adjacency: Tensor, x: Tensor) -> Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[None, Tensor]:
        return None, ctx.adjacency @ grad


def propagate(adjacency: Tensor, x: Tensor) -> Tensor:
    """One propagation step with the symmetric normalised adjacency."""
    return _SymmetricSpMM.apply(adjacency, x)


def rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` through ``index_select``, for rows that gradients flow back through.

    Why: the backward of ``table[index]`` (``index_put_`` with accumulation) sums a row that
    ``index`` repeats in an order that varies from run to run on more than one CPU thread, so
    two runs of one training command parted after 15-20 epochs; ``index_select``'s backward
    (``index_add_``) sums them in index order on any thread count, as one thread does.
    """
    return table.index_select(0, index)
