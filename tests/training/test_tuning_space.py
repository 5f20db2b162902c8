"""The tuning space only proposes settings the chosen architecture can train."""

from __future__ import annotations

import optuna
import pytest

from gnn.encoders import CONVS
from training.experiment import ModelConfig
from training.tuning import TUNABLE, default_params, suggest


@pytest.mark.parametrize("conv", CONVS)
def test_cold_item_training_is_proposed_only_where_it_can_run(conv: str) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = suggest(study.ask(), ModelConfig(conv=conv))
        if config.cold_items:
            assert conv == "lgc" and config.use_features


@pytest.mark.parametrize("model", TUNABLE)
@pytest.mark.parametrize("conv", CONVS)
def test_a_study_starts_from_the_defaults(conv: str, model: str) -> None:
    """The enqueued first trial is exactly the untuned configuration, in every model's space."""
    base = ModelConfig(conv=conv)
    config = suggest(optuna.trial.FixedTrial(default_params(base, model)), base, model)
    assert config == base
