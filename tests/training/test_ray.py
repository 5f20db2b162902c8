"""The [ray] extra: the same train and sharded-scoring jobs under Ray Train's TorchTrainer and
a Ray Data ``map_batches`` job, on a real local Ray cluster, against the plain runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.encoder import TextEncoder
from graphdb.snapshot import write_snapshot
from graphdb.synthetic import SyntheticShape, synthetic_snapshot
from tests.cli_json import run_json

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")

QUICK = ["--epochs", "6", "--dim", "32", "--variants", "full", "--baselines", "none"]
EXACT = ["--noise", "0", "--cl-weight", "0"]  # BPR alone: ranks and one process agree


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory, encoder: TextEncoder) -> Path:
    snapshot = synthetic_snapshot(
        SyntheticShape(users=240, items=300, interests=60, dims=encoder.dimensions, seed=2)
    )
    snapshot.manifest["embedding_model"] = encoder.model_id
    folder = tmp_path_factory.mktemp("ray") / "snapshot"
    write_snapshot(snapshot, folder)
    return folder


def shard_rows(manifest: dict, target: str) -> pd.DataFrame:
    folder = Path(manifest["out"])
    files = [folder / s["file"] for s in manifest["shards"] if s["target"] == target]
    frame = pd.concat([pd.read_parquet(f) for f in files])
    return frame.sort_values(["user", "rank"]).reset_index(drop=True)


def test_ray_train_and_ray_data_scoring_match_the_plain_runs(
    ray_cluster, snapshot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(tmp_path / "home"))
    base = ["train", "--snapshot", str(snapshot_dir), *QUICK, *EXACT]
    code, plain = run_json([*base, "--out", str(tmp_path / "plain")])
    assert code == 0, plain
    ray_args = ["--distributed", "--launcher", "ray", "--nproc", "2"]
    code, on_ray = run_json([*base, *ray_args, "--out", str(tmp_path / "ray")])
    assert code == 0, on_ray
    assert on_ray["ranks"] == 2 and plain["ranks"] == 1
    for target, figures in plain["metrics"].items():
        assert abs(on_ray["metrics"][target]["recall@20"] - figures["recall@20"]) <= 2e-3

    score = ["predict", "--checkpoint", str(tmp_path / "ray"), "--k", "5"]
    score += ["--users-per-transaction", "50"]
    code, one = run_json([*score, "--to-shards", str(tmp_path / "one")])
    assert code == 0, one
    code, many = run_json([*score, "--to-shards", str(tmp_path / "many"), *ray_args])
    assert code == 0, many
    assert many["workers"] == 2 and many["rows"] == one["rows"] == {"item": 1200, "interest": 1200}
    for target in ("item", "interest"):
        assert shard_rows(many, target).equals(shard_rows(one, target))
