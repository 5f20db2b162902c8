"""One propagation step of the DGL backend is the PyG backend's step, on a small heterogeneous
graph with duplicate edges, an isolated node, a self-relation and cold items; so is a whole
encoder's forward pass, its perturbed contrast view and its gradients."""

from __future__ import annotations

import pytest
import torch

from gnn.dgl_propagation import DGLPropagation
from gnn.encoders import HeteroEncoder
from gnn.graph import EdgeType, Graph, propagate

NUM_NODES = {"user": 6, "item": 8, "interest": 4}


def _both_ways(edges: dict[EdgeType, torch.Tensor], src: str, name: str, dst: str, index) -> None:
    index = torch.tensor(index)
    edges[(src, name, dst)] = index
    edges[(dst, f"rev_{name}", src)] = index.flip(0)


def _graph() -> Graph:
    """Users 0–4 rate items (user 5 has no edge at all); user 0 rates item 1 twice."""
    edges: dict[EdgeType, torch.Tensor] = {}
    _both_ways(
        edges, "user", "user_item", "item", [[0, 0, 0, 1, 2, 3, 4, 4], [0, 1, 1, 2, 3, 4, 5, 6]]
    )
    _both_ways(edges, "user", "user_interest", "interest", [[0, 1, 3], [0, 1, 2]])
    _both_ways(edges, "item", "has_interest", "interest", [[0, 1, 2, 5, 7], [0, 0, 1, 2, 3]])
    _both_ways(edges, "interest", "related_to", "interest", [[0, 1], [1, 2]])
    generator = torch.Generator().manual_seed(0)
    x = {t: torch.randn(n, 5, generator=generator) for t, n in NUM_NODES.items()}
    masks = {t: torch.ones(n, dtype=torch.bool) for t, n in NUM_NODES.items()}
    masks["user"][5] = False
    return Graph(dict(NUM_NODES), edges, x, masks)


def _flat(graph: Graph, rows: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat(
        [rows.get(t, torch.zeros(n, dtype=torch.bool)) for t, n in graph.num_nodes.items()]
    )


def _split(graph: Graph, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    return dict(zip(graph.num_nodes, flat.split(list(graph.num_nodes.values())), strict=True))


@pytest.mark.parametrize("exclude", [frozenset(), frozenset({"has_interest"})])
def test_one_step_is_the_normalised_adjacency_product(exclude: frozenset[str]) -> None:
    graph = _graph()
    h = {t: torch.randn(n, 3) for t, n in NUM_NODES.items()}
    expected = _split(graph, propagate(graph.adjacency(exclude), torch.cat(list(h.values()))))
    got = DGLPropagation(graph, exclude)(h)
    for node_type in NUM_NODES:
        torch.testing.assert_close(got[node_type], expected[node_type], rtol=1e-5, atol=1e-6)
    assert got["user"][5].abs().sum() == 0  # no edge, no message


def test_cold_items_lose_their_user_edges_alike() -> None:
    graph = _graph()
    h = {t: torch.randn(n, 3) for t, n in NUM_NODES.items()}
    hidden = {"item": torch.tensor([False, True, False, False, True, False, False, False])}
    other = {"user": torch.ones(NUM_NODES["user"], dtype=torch.bool)}
    adjacency = graph.adjacency(frozenset(), _flat(graph, hidden), _flat(graph, other))
    expected = _split(graph, propagate(adjacency, torch.cat(list(h.values()))))
    got = DGLPropagation(graph, frozenset())(h, hidden, other)
    for node_type in NUM_NODES:
        torch.testing.assert_close(got[node_type], expected[node_type], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cold_items", [0.0, 0.3])
def test_an_encoder_trains_the_same_on_both_backends(cold_items: float) -> None:
    """Same weights, same random draws: same embeddings, contrast view and gradients."""
    graph = _graph()
    outputs = {}
    for backend in ("pyg", "dgl"):
        torch.manual_seed(0)
        encoder = HeteroEncoder(
            graph.num_nodes,
            5,
            list(graph.edge_index),
            dim=8,
            layers=3,
            noise=0.1,
            cold_items=cold_items,
            backend=backend,
        ).train()
        torch.manual_seed(1)
        emb = encoder(graph)
        loss = sum((v**2).sum() for v in emb.values()) + sum(
            (v**3).sum() for v in encoder.contrast_view.values()
        )
        loss.backward()
        grads = {name: p.grad.clone() for name, p in encoder.named_parameters()}
        outputs[backend] = (emb, encoder.contrast_view, grads)
    for pyg, dgl in zip(outputs["pyg"], outputs["dgl"], strict=True):
        assert pyg.keys() == dgl.keys()
        for key in pyg:
            torch.testing.assert_close(dgl[key], pyg[key], rtol=1e-4, atol=1e-5)
