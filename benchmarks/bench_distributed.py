"""What data-parallel training buys with the replicated design, in the same run.

On one synthetic graph, the median training-step time of our default model on 1 process
(plain) and on N DDP ranks (gloo on CPU, NCCL on GPUs, started through the same elastic
launcher as ``train --distributed``), each rank taking its slice of the same global batch.
Every rank repeats the full-graph propagation, so DDP divides only the per-edge part of a step
(the loss over the batch, its negatives, the contrastive term); the ratio says how much that is.

    python benchmarks/bench_distributed.py [--users 30000] [--nproc 2] [--device cpu]
    torchrun --standalone --nproc-per-node 1 benchmarks/bench_distributed.py --rank-only ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_scale import step_seconds, synthetic_setup
from training.distributed import current, gather, joined, launch


def ranked_step(users: int, device_name: str) -> dict:
    """One rank's median step time, with every rank's figure gathered on rank 0."""
    with joined(torch.device(device_name)) as device:
        setup = synthetic_setup(users, device)
        seconds = gather(step_seconds(setup, device))
        backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else None
        ranks = current()
        return {
            "rank": ranks.rank,
            "ranks": ranks.world,
            "backend": backend,
            "step_seconds": seconds,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--rank-only", action="store_true", help="run as one rank of an outside torchrun"
    )
    args = parser.parse_args()
    if args.rank_only:
        result = ranked_step(args.users, args.device)
        if result["rank"] == 0:
            sys.stdout.write(json.dumps(result) + "\n")
        return
    single = ranked_step(args.users, args.device)
    ranks = launch(args.nproc, ranked_step, args.users, args.device)
    one, many = single["step_seconds"][0], max(ranks["step_seconds"])
    report = {
        "users": args.users,
        "device": args.device,
        "threads_single": torch.get_num_threads(),
        "single": single,
        "ddp": ranks,
        "ddp_step_over_single": round(many / one, 2),
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
