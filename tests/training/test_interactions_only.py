"""A user's own data with interactions only (no interests, no timestamps): every command still
works, and asking for interest predictions fails before anything is written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from neo4j import Driver

from tests.cli_json import run_json as _json


@pytest.mark.usefixtures("neo4j_env")
def test_interactions_only_dataset_trains_and_predicts(driver: Driver, tmp_path: Path) -> None:
    rng = random.Random(0)
    rows = [f"u{u},i{i}" for u in range(30) for i in rng.sample(range(50), 10)]
    (tmp_path / "interactions.csv").write_text("user_id,item_id\n" + "\n".join(rows) + "\n")
    assert _json(["ingest", "csv", "--data-dir", str(tmp_path)])[0] == 0
    assert _json(["embed", "--device", "cpu"])[0] == 0
    code, exported = _json(["export"])
    assert code == 0 and exported["nodes"]["interest"] == 0
    code, out = _json(["train", "--split", "temporal", "--epochs", "3"])
    assert code == 1 and "timestamp" in out["error"]
    for split in ("temporal-user", "item-cold", "user-cold", "user-random"):
        code, out = _json(
            ["train", "--split", split, "--epochs", "3", "--baselines", "popularity,lightgcn"]
        )
        assert code == 0, out
        assert out["metrics"]["user_interest"] == {"users": 0}
        assert out["metrics"]["user_item"]["users"] > 0
        if split == "temporal-user":
            assert "no timestamps" in out["split_summary"]["notes"][0]
    checkpoint = out["checkpoint"]
    code, out = _json(["predict", "--checkpoint", checkpoint, "--k", "3"])
    assert code == 1 and "--targets item" in out["error"]
    assert driver.execute_query("MATCH (r:PredictionRun) RETURN count(r) AS n").records[0]["n"] == 0
    code, out = _json(["predict", "--checkpoint", checkpoint, "--k", "3", "--targets", "item"])
    assert code == 0 and out["written"] == {"item": 90}
