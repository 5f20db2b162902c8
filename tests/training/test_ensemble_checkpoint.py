"""An ensemble target survives the state dict: ``load_trained`` rebuilds each member from its
configuration and ranks exactly as the model that was saved."""

from __future__ import annotations

import pytest
import torch

from gnn.graph import Graph
from gnn.models import PerTargetModel, VariantEnsemble
from training.experiment import ModelConfig, build_model, load_trained, variant_config


def _graph() -> Graph:
    ui = torch.tensor([[0, 0, 1, 2, 3], [0, 1, 1, 2, 3]])
    it = torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])
    edges = {
        ("user", "user_item", "item"): ui,
        ("item", "rev_user_item", "user"): ui.flip(0),
        ("item", "has_interest", "interest"): it,
        ("interest", "rev_has_interest", "item"): it.flip(0),
    }
    num = {"user": 4, "item": 4, "interest": 2}
    torch.manual_seed(0)
    x = {t: torch.nn.functional.normalize(torch.randn(n, 8), dim=-1) for t, n in num.items()}
    return Graph(num, edges, x, {t: torch.ones(n, dtype=torch.bool) for t, n in num.items()})


def test_an_ensemble_target_round_trips_through_the_state_dict() -> None:
    graph = _graph()
    base = ModelConfig(dim=8)
    configs = {v: variant_config(base, v) for v in ("full", "lightgcn")}
    torch.manual_seed(1)
    saved = PerTargetModel(
        {
            "user_item": VariantEnsemble(
                {v: build_model("ours", c, graph) for v, c in configs.items()}
            )
        }
    ).eval()
    with torch.no_grad():  # move the weights off their initial values
        for parameter in saved.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    users = torch.tensor([0, 1, 2, 3])
    expected = saved.matrix(saved.embed(graph), "user_item", users)

    loaded = load_trained(
        {"user_item": configs["full"]}, graph, saved.state_dict(), {"user_item": configs}
    )
    assert isinstance(loaded.models["user_item"], VariantEnsemble)
    assert torch.equal(loaded.matrix(loaded.embed(graph), "user_item", users), expected)
    # without the members' configurations the state cannot be read as one network
    with pytest.raises(RuntimeError, match="state_dict"):
        load_trained({"user_item": configs["full"]}, graph, saved.state_dict())
