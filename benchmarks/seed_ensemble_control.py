"""The equal-size control for our variant ensemble: one baseline trained from K seeds on one
split, ranked together exactly as :class:`~gnn.models.VariantEnsemble` ranks our variants
(each network's score rows standardised, then averaged), with the test figures of its first
1, 2, … K members.

Why: ``train`` ships up to five networks where LightGCN is one, so part of any gain could be
averaging as such. Giving the baseline as many networks from other seeds says how much.

    python benchmarks/seed_ensemble_control.py --snapshot SNAP --split user-random --seed 0 \
        --members 5 [--baseline lightgcn] [--params best_params-s0-lightgcn.json]

Member k trains with seed ``SEED + 1000 k`` (member 0 is the ``train`` run's own baseline);
the split is always that of ``--seed``. Reads ``INTERESTGRAPH_HOME`` for the embedding cache,
as every command does; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from features.encoder import DEFAULT_MODEL
from gnn.models import VariantEnsemble
from interestgraph.settings import Settings
from training.choices import LEARNED_BASELINES, MODES
from training.errors import JobError
from training.experiment import ModelConfig, evaluate_model, graph_for, ranking_tasks, train_model
from training.jobs import (
    SplitSpec,
    open_snapshot,
    prepare_split,
    torch_device,
    user_text_encoder,
    with_params,
)

SEED_STRIDE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--split", choices=MODES, default="user-random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--baseline", choices=LEARNED_BASELINES, default="lightgcn")
    parser.add_argument("--params", type=Path, help="the baseline's best_params file from `tune`")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--text-model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    if args.members < 1:
        parser.error("--members must be at least 1")
    config = ModelConfig()
    if args.params:
        try:
            _, tuned = with_params(config, [args.params])
        except JobError as e:
            parser.error(str(e))
        if args.baseline not in tuned:
            parser.error(f"{args.params}: not a best_params file for {args.baseline}")
        config = tuned[args.baseline]

    device = torch_device(args.device)
    snapshot = open_snapshot(args.snapshot)
    encode = user_text_encoder(
        snapshot, args.text_model, args.device, Settings().home / "embeddings.sqlite"
    )
    prepared = prepare_split(snapshot, SplitSpec(args.split), args.seed, encode)
    graph = graph_for(prepared, ModelConfig()).to(device)
    members, fits = {}, []
    for k in range(args.members):
        started = time.perf_counter()
        seed = args.seed + SEED_STRIDE * k
        model, _, fit = train_model(args.baseline, prepared, config, device, seed, graph=graph)
        members[f"seed{seed}"] = model
        fits.append(
            {
                "seed": seed,
                "best_epoch": fit.best_epoch,
                "validation_recall@20": fit.best_values,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    tasks = ranking_tasks(prepared, graph, "test")
    by_size = {}
    for size in range(1, args.members + 1):
        ensemble = VariantEnsemble(dict(list(members.items())[:size]))
        metrics = evaluate_model(ensemble, graph, tasks, device, args.seed, full=False)
        by_size[size] = {
            target: {m: round(values[m], 5) for m in ("recall@20", "ndcg@20")}
            for target, values in metrics.items()
            if values.get("users")
        }
    sys.stdout.write(
        json.dumps(
            {
                "dataset": prepared.dataset,
                "split": args.split,
                "seed": args.seed,
                "baseline": args.baseline,
                "params": str(args.params) if args.params else None,
                "members": fits,
                "test_by_size": by_size,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
