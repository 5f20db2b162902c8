"""Several seeds of one experiment → mean, standard deviation and a 95% interval per metric.

A gain of a few percent from one seed is noise until its spread says otherwise, so ``train
--seeds`` runs the whole experiment (split, training, baselines) once per seed and reports, for
every scalar metric of ours and of each baseline, ``{mean, sd, ci95, values}``: ``sd`` is the
sample standard deviation and ``ci95`` the half-width of the t-interval of the mean.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats


def summarise(values: list[float]) -> dict[str, Any]:
    """Mean, sample sd and 95% t-interval half-width of one metric over seeds."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else 0.0
    return {
        "mean": round(mean, 5),
        "sd": round(sd, 5),
        "ci95": round(half, 5),
        "values": [round(v, 5) for v in values],
    }


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and k != "users"}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One metrics JSON for several seeds: ``metrics`` and ``baselines`` keep the single-run
    shape with each scalar replaced by its mean (so scripts reading one run still work), and
    ``spread`` holds ``{model: {target: {metric: summary}}}``; ``seeds`` lists the seeds."""
    first = runs[0]
    models = {"ours": [r["metrics"] for r in runs]}
    for name in first["baselines"]:
        models[name] = [r["baselines"][name] for r in runs]
    spread: dict[str, dict[str, dict[str, Any]]] = {}
    means: dict[str, dict[str, Any]] = {}
    for name, per_seed in models.items():
        spread[name], means[name] = {}, {}
        for target, metrics in per_seed[0].items():
            keys = _scalar_metrics(metrics)
            spread[name][target] = {
                k: summarise([_scalar_metrics(m[target])[k] for m in per_seed]) for k in keys
            }
            means[name][target] = {
                **metrics,
                **{k: s["mean"] for k, s in spread[name][target].items()},
            }
    return {
        **first,
        "seed": None,
        "seeds": [r["seed"] for r in runs],
        "metrics": means["ours"],
        "baselines": {n: means[n] for n in first["baselines"]},
        "spread": spread,
        "training": {"per_seed": [r["training"] for r in runs]},
    }
