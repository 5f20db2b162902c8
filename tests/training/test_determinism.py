"""A training step's gradients are the same on one CPU thread and on two, bit for bit, so a
training run reproduces whatever thread count it ran on.

Why it is tested: gathering rows with ``table[index]`` summed a repeated row's gradients in an
order that varied between runs on two threads, and two runs of one ``train`` command parted
after 15-20 epochs (README, "Reproducing a figure"). The batch here is a training step's size,
with users and items repeated as in a real batch, large enough for the parallel sums to split.
"""

from __future__ import annotations

import torch

from gnn.encoders import HeteroEncoder
from gnn.graph import Graph
from gnn.models import LinkPredictor
from training.loop import FitConfig, StepLoss

USERS, ITEMS, INTERESTS, FEATURES = 3000, 2000, 40, 16


def _graph(generator: torch.Generator) -> Graph:
    user_item = torch.stack(
        [
            torch.randint(0, USERS, (30_000,), generator=generator),
            torch.randint(0, ITEMS, (30_000,), generator=generator),
        ]
    ).unique(dim=1)
    has_interest = torch.stack(
        [torch.arange(ITEMS), torch.randint(0, INTERESTS, (ITEMS,), generator=generator)]
    )
    edges = {
        ("user", "user_item", "item"): user_item,
        ("item", "rev_user_item", "user"): user_item.flip(0),
        ("item", "has_interest", "interest"): has_interest,
        ("interest", "rev_has_interest", "item"): has_interest.flip(0),
    }
    num = {"user": USERS, "item": ITEMS, "interest": INTERESTS}
    x = {t: torch.randn(n, FEATURES, generator=generator) for t, n in num.items()}
    return Graph(num, edges, x, {t: torch.ones(n, dtype=torch.bool) for t, n in num.items()})


def _gradients(
    graph: Graph, batch: tuple[torch.Tensor, torch.Tensor], threads: int
) -> dict[str, torch.Tensor]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)  # the same initial weights and XSimGCL noise on every call
    encoder = HeteroEncoder(
        graph.num_nodes, FEATURES, list(graph.edge_index), dim=32, layers=2, noise=0.1
    )
    model = LinkPredictor(encoder, 32)
    StepLoss(model, graph, FitConfig(amp=False))({"user_item": batch}).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_training_gradients_do_not_depend_on_the_thread_count(restore_threads: None) -> None:
    generator = torch.Generator().manual_seed(0)
    graph = _graph(generator)
    pairs = graph.edge_index[("user", "user_item", "item")]
    chosen = torch.randint(0, pairs.shape[1], (4096,), generator=generator)
    batch = (pairs[:, chosen], torch.randint(0, ITEMS, (4096,), generator=generator))
    one = _gradients(graph, batch, threads=1)
    assert {"encoder.ids.user.weight", "encoder.project.item.weight"} <= set(one)
    for _ in range(3):
        two = _gradients(graph, batch, threads=2)
        assert two.keys() == one.keys()
        differ = [name for name in one if not torch.equal(one[name], two[name])]
        assert not differ, f"gradients differ between one and two threads: {differ}"
