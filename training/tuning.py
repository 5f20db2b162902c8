"""Optuna studies over the hyper-parameters of our model or a learned baseline, on the validation
split only (a baseline tuned with the same number of trials gets the same budget).

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

from training.experiment import LEARNED_BASELINES, ModelConfig, Prepared, train_model
from training.loop import Pruned

logger = logging.getLogger(__name__)


TUNABLE = ("ours", *LEARNED_BASELINES)


def suggest(trial: Any, base: ModelConfig, model: str = "ours") -> ModelConfig:
    """The search space of ``model``. Every learned model gets learning rate, L2, size and the
    interest-loss weight (LightGCN its depth too), so a baseline can be given the same budget;
    ours adds depth, dropout, LLM features and id embeddings (at least one of the two), and the
    XSimGCL perturbation and contrastive weight."""
    fit = replace(
        base.fit,
        lr=trial.suggest_float("lr", 1e-3, 3e-2, log=True),
        reg=trial.suggest_float("reg", 1e-6, 1e-2, log=True),
        interest_weight=trial.suggest_float("interest_weight", 0.1, 2.0, log=True),
    )
    config = replace(base, dim=trial.suggest_categorical("dim", [32, 64, 128]), fit=fit)
    if model == "mf_bpr":
        return config
    config = replace(config, layers=trial.suggest_int("layers", 1, 4))
    if model == "lightgcn":
        return config
    use_features = trial.suggest_categorical("use_features", [True, False])
    return replace(
        config,
        dropout=trial.suggest_float("dropout", 0.0, 0.4),
        use_features=use_features,
        use_ids=trial.suggest_categorical("use_ids", [True, False]) if use_features else True,
        noise=trial.suggest_float("noise", 0.0, 0.3),
        cold_items=(
            trial.suggest_float("cold_items", 0.0, 0.5)
            if use_features and config.conv == "lgc"
            else 0.0
        ),
        fit=replace(fit, cl_weight=trial.suggest_float("cl_weight", 0.0, 0.3)),
    )


def default_params(base: ModelConfig, model: str = "ours") -> dict[str, Any]:
    """``base`` written in :func:`suggest`'s parameter names for ``model``: the first trial of a
    new study, so tuning starts from the defaults and never returns a configuration that scored
    below them on validation (for every model alike, the same budget)."""
    params: dict[str, Any] = {
        "lr": base.fit.lr,
        "reg": base.fit.reg,
        "interest_weight": base.fit.interest_weight,
        "dim": base.dim,
    }
    if model == "mf_bpr":
        return params
    params["layers"] = base.layers
    if model == "lightgcn":
        return params
    params.update(
        use_features=base.use_features,
        dropout=base.dropout,
        noise=base.noise,
        cl_weight=base.fit.cl_weight,
    )
    if base.use_features:
        params["use_ids"] = base.use_ids
        if base.conv == "lgc":
            params["cold_items"] = base.cold_items
    return params


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
    model: str = "ours",
) -> dict[str, Any]:
    """Run trials of ``model`` (ours or a learned baseline) until the study holds ``trials``
    finished ones; returns the best."""
    import optuna

    if model not in TUNABLE:
        raise ValueError(f"cannot tune {model!r}; choose one of {', '.join(TUNABLE)}")

    storage.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=study_name,
        storage=f"sqlite:///{storage}",
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=10),
    )
    if not study.trials:
        study.enqueue_trial(default_params(base, model))
    finished = [t for t in study.trials if t.state.is_finished()]
    remaining = max(0, trials - len(finished))

    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, base, model)

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise Pruned

        try:
            _, _, result = train_model(model, prepared, config, device, seed, progress, report)
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
        "model": model,
        "storage": str(storage),
        "trials": len(study.trials),
        "completed": len(complete),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        "ran_now": remaining,
        "best_value": round(best.value, 5),
        "best_params": best.params,
        "best_epoch": best.user_attrs.get("best_epoch"),
    }


def write_params(path: Path, model: str, params: dict[str, Any]) -> None:
    """The study's best parameters, tagged with the model they are for."""
    path.write_text(json.dumps({"model": model, **params}, indent=2) + "\n")


def read_params(path: Path) -> tuple[str, dict[str, Any]]:
    """(model, parameters) of a ``best_params`` file; an untagged file is ours."""
    params = json.loads(path.read_text())
    if not isinstance(params, dict):
        raise ValueError("expected a JSON object of parameters")
    model = params.pop("model", "ours")
    if model not in TUNABLE:
        raise ValueError(f"model {model!r} is not one of {', '.join(TUNABLE)}")
    return model, params
