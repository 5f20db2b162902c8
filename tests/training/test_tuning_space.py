"""The tuning space only proposes settings the chosen architecture can train."""

from __future__ import annotations

import optuna
import pytest

from gnn.encoders import CONVS
from training.experiment import ModelConfig
from training.tuning import suggest


@pytest.mark.parametrize("conv", CONVS)
def test_cold_item_training_is_proposed_only_where_it_can_run(conv: str) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = suggest(study.ask(), ModelConfig(conv=conv))
        if config.cold_items:
            assert conv == "lgc" and config.use_features
