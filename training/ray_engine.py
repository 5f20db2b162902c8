"""The same jobs on Ray, for users who operate a Ray cluster (optional extra ``[ray]``).

``train --distributed --launcher ray`` runs :func:`training.jobs.run_train` unchanged as Ray
Train's ``train_loop_per_worker`` under a ``TorchTrainer``: Ray opens the torch process group
(gloo, or NCCL with ``use_gpu``) and our code finds it open, so the ranks, slices, DDP and
rank-0 validation are exactly those of a torchrun run. ``predict --to-shards --launcher ray``
is a Ray Data ``map_batches`` job: actors that each hold the checkpoint's embedded graph (the
item matrix) score chunks of users, the very chunks one process would score, and the results
land as Parquet plus the same manifest :mod:`training.shards` writes.

``ray.init()`` joins the cluster ``RAY_ADDRESS`` names, else starts a local one (no dashboard).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.errors import JobError
from training.jobs import (
    ShardJob,
    TrainJob,
    open_checkpoint,
    run_score_shards,
    run_train,
    torch_device,
)
from training.shards import describe_shard, write_manifest


def _ray():
    try:
        import ray
    except ImportError:
        raise JobError(
            "--launcher ray needs Ray: pip install 'interestgraph[ray]' (or use the default "
            "torch launcher)"
        ) from None
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    return ray


def _train_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: the whole train job. Rank 0 reports the metrics JSON with a
    (tiny) Ray checkpoint, which is what makes Ray keep a report as the run's result."""
    import tempfile

    import ray.train

    payload = run_train(config["job"])
    if payload is None:
        ray.train.report({})
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "metrics.json").write_text(json.dumps(payload))
        ray.train.report(
            {"payload": json.dumps(payload)},
            checkpoint=ray.train.Checkpoint.from_directory(folder),
        )


def train_on_ray(job: TrainJob, workers: int) -> dict[str, Any]:
    """Run ``job`` on ``workers`` Ray Train workers (one GPU each when the job's device is
    CUDA) and return rank 0's metrics JSON."""
    _ray()
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    use_gpu = torch_device(job.device).type == "cuda"
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={"job": job},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
        run_config=RunConfig(storage_path=str(job.out.parent.resolve() / ".ray-train")),
    )
    try:
        result = trainer.fit()
    except Exception as e:  # Ray wraps a worker's error in its own types
        raise JobError(f"Ray Train run failed: {e}") from None
    return json.loads(result.metrics["payload"])


class _ChunkScorer:
    """A Ray Data actor: the checkpoint's model embedded once, then one chunk of users per
    call (rows ``start … start + chunk``)."""

    def __init__(self, job: ShardJob, name: str):
        from training.batch_predict import load_scorer

        checkpoint, snapshot = open_checkpoint(job.checkpoint, job.snapshot)
        device = torch_device(job.device)
        self.scorer = load_scorer(checkpoint, snapshot, job.targets, device, job.k, job.chunk)
        self.users, self.name, self.chunk = snapshot.num_nodes("user"), name, job.chunk

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        frames = []
        for start in batch["start"]:
            rows = np.arange(start, min(start + self.chunk, self.users))
            for block in self.scorer.blocks(self.name, rows):
                frames.append(
                    pd.DataFrame(
                        {
                            "user": block["users"].astype(str),
                            "target": block["targets"].astype(str),
                            "score": block["scores"],
                            "rank": block["ranks"],
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)


def score_on_ray(job: ShardJob, workers: int) -> dict[str, Any]:
    """Score every user into Parquet under ``job.out/<target>/`` with ``workers`` Ray Data
    actors, then write the shard manifest; returns it."""
    ray = _ray()
    checkpoint, snapshot = open_checkpoint(job.checkpoint, job.snapshot)
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    starts = ray.data.from_items(
        [{"start": s} for s in range(0, snapshot.num_nodes("user"), job.chunk)]
    )
    shards = []
    for name in job.targets:
        folder = out / name
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        scored = starts.map_batches(
            _ChunkScorer,
            fn_constructor_args=(job, name),
            batch_size=1,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_gpus=1 if torch_device(job.device).type == "cuda" else 0,
        )
        scored.write_parquet(str(folder))
        shards += [describe_shard(out, path, name) for path in sorted(folder.glob("*.parquet"))]
    return write_manifest(out, checkpoint, snapshot, job.k, job.targets, job.chunk, workers, shards)


def run_on_ray(
    entry: Callable[[Any], dict[str, Any] | None], job: Any, workers: int
) -> dict[str, Any]:
    """The Ray form of a job the torch launcher would run as ``entry(job)`` on each rank."""
    if entry is run_train:
        return train_on_ray(job, workers)
    if entry is run_score_shards:
        return score_on_ray(job, workers)
    raise JobError(f"{entry.__name__} has no Ray form")
