"""Optuna studies over our model's hyper-parameters, on the validation split only.

The study lives in SQLite, so a killed ``tune`` resumes where it stopped (finished trials are
kept; ``--trials N`` is the total wanted). Trials report validation Recall@20 at every
evaluation and the median pruner stops the ones behind.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from training.experiment import ModelConfig, Prepared, train_model
from training.loop import Pruned

logger = logging.getLogger(__name__)


def suggest(trial: Any, base: ModelConfig) -> ModelConfig:
    """The search space: learning rate, L2, size, depth, dropout, id embeddings, the
    interest-loss weight and the XSimGCL perturbation and contrastive weight."""
    fit = replace(
        base.fit,
        lr=trial.suggest_float("lr", 1e-3, 3e-2, log=True),
        reg=trial.suggest_float("reg", 1e-6, 1e-2, log=True),
        interest_weight=trial.suggest_float("interest_weight", 0.1, 2.0, log=True),
        cl_weight=trial.suggest_float("cl_weight", 0.0, 0.3),
    )
    return replace(
        base,
        dim=trial.suggest_categorical("dim", [32, 64, 128]),
        layers=trial.suggest_int("layers", 1, 4),
        dropout=trial.suggest_float("dropout", 0.0, 0.4),
        use_ids=trial.suggest_categorical("use_ids", [True, False]),
        noise=trial.suggest_float("noise", 0.0, 0.3),
        fit=fit,
    )


def apply_params(base: ModelConfig, params: dict[str, Any]) -> ModelConfig:
    """A config with a study's best parameters applied (what ``train --params`` does)."""
    fit_keys = {"lr", "reg", "interest_weight", "batch_size", "loss", "cl_weight", "cl_temperature"}
    fit = replace(base.fit, **{k: v for k, v in params.items() if k in fit_keys})
    return replace(base, **{k: v for k, v in params.items() if k not in fit_keys}, fit=fit)


def run_study(
    prepared: Prepared,
    base: ModelConfig,
    device: torch.device,
    trials: int,
    storage: Path,
    study_name: str,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run trials until the study holds ``trials`` finished ones; returns the best."""
    import optuna

    storage.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=study_name,
        storage=f"sqlite:///{storage}",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=10),
    )
    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = max(0, trials - len(finished))

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, base)

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise Pruned

        try:
            _, _, result = train_model("ours", prepared, config, device, seed, progress, report)
        except Pruned:
            raise optuna.TrialPruned() from None
        trial.set_user_attr("best_epoch", result.best_epoch)
        return result.best_value

    if remaining:
        study.optimize(objective, n_trials=remaining)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study_name!r} has no completed trial yet")
    best = study.best_trial
    return {
        "study": study_name,
        "storage": str(storage),
        "trials": len(study.trials),
        "completed": len(complete),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "ran_now": remaining,
        "best_value": round(best.value, 5),
        "best_params": best.params,
        "best_epoch": best.user_attrs.get("best_epoch"),
    }


def write_params(path: Path, params: dict[str, Any]) -> None:
    path.write_text(json.dumps(params, indent=2) + "\n")
