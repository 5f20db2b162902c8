"""DDP on 2 gloo processes (spawned through the same elastic launcher `train --distributed`
uses) against one process with the same global batch: the ranks stay identical replicas, and
the trained model's figures match the single process's."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from features.encoder import TextEncoder
from graphdb.synthetic import SyntheticShape, synthetic_snapshot
from training.distributed import current, gather, joined, launch
from training.experiment import (
    ModelConfig,
    Prepared,
    evaluate_model,
    prepare,
    ranking_tasks,
    train_model,
)
from training.loop import FitConfig


@pytest.fixture(scope="module")
def prepared(encoder: TextEncoder) -> Prepared:
    shape = SyntheticShape(
        users=300, items=400, interests=120, taggers=0.4, dims=encoder.dimensions, seed=4
    )
    return prepare(
        synthetic_snapshot(shape), "user-random", 0, lambda t: encoder.encode(t, progress=False)
    )


def _config(noise: float, **fit: float | str) -> ModelConfig:
    return replace(
        ModelConfig(dim=32, noise=noise),
        fit=FitConfig(epochs=12, eval_every=3, patience=99, batch_size=1024, **fit),
    )


def _digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def _train(prepared: Prepared, config: ModelConfig) -> dict:
    """Train and report what the comparison needs (called on each rank, and once plainly)."""
    with joined(torch.device("cpu")) as device:
        model, graph, result = train_model("ours", prepared, config, device, seed=0, progress=False)
        digests = gather(_digest(model))
        test = ranking_tasks(prepared, graph, "test")
        metrics = evaluate_model(model, graph, test, device, 0) if current().primary else {}
        return {
            "ranks": current().world,
            "digests": digests,
            "history": result.history,
            "metrics": {t: m["recall@20"] for t, m in metrics.items()},
        }


@pytest.mark.parametrize(
    ("fit", "tolerance"),
    [
        # BPR alone: the ranks' slices average to exactly the single process's batch loss, so
        # only the order of float sums differs (measured: equal to 5 digits at every epoch)
        ({"noise": 0.0, "cl_weight": 0.0}, 2e-3),
        # XSimGCL's contrastive term is computed over each rank's slice (fewer in-batch
        # negatives): a slightly different objective (measured: within 0.013)
        ({"noise": 0.1}, 0.03),
    ],
    ids=["bpr", "bpr+contrastive"],
)
def test_two_gloo_ranks_are_replicas_and_match_one_process(
    prepared: Prepared, fit: dict, tolerance: float
) -> None:
    config = _config(**fit)
    single = _train(prepared, config)
    both = launch(2, _train, prepared, config)
    assert both["ranks"] == 2 and single["ranks"] == 1
    assert len(set(both["digests"])) == 1, "the two ranks' weights differ"
    assert both["metrics"].keys() == single["metrics"].keys() == {"user_item", "user_interest"}
    for target, value in single["metrics"].items():
        assert value > 0.0
        assert abs(both["metrics"][target] - value) <= tolerance, (target, both, single)
    for (epoch, ours), (epoch_single, theirs) in zip(
        both["history"], single["history"], strict=True
    ):
        assert epoch == epoch_single
        assert np.allclose(list(ours.values()), list(theirs.values()), atol=tolerance)


def test_a_failing_rank_is_reported_with_its_error(prepared: Prepared) -> None:
    from training.distributed import LaunchError

    with pytest.raises(LaunchError, match="loss must be one of"):
        launch(2, _train, prepared, _config(noise=0.0, loss="hinge"))
