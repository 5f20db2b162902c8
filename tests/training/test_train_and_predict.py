"""export → train → evaluate → predict through the CLI against the real Neo4j: the metrics JSON
contract, same seed same numbers, no leakage, checkpoint pinning, and a prediction run that
survives SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from neo4j import Driver

from graphdb.snapshot import read_snapshot, write_snapshot
from tests.cli_json import run_json as _json
from training.experiment import ModelConfig, graph_for, prepare

REPO = Path(__file__).resolve().parents[2]
FAST = ["--epochs", "10", "--dim", "32", "--batch-size", "2048", "--variants", "full,lightgcn"]
METRIC_KEYS = {"recall@20", "ndcg@20", "hit@20", "mrr", "auc", "coverage", "novelty", "diversity"}


@pytest.fixture(scope="module")
def snapshot_dir(small_graph: Path) -> Path:
    code, report = _json(["export"])
    assert code == 0, report
    return Path(report["out"])


@pytest.fixture(scope="module")
def trained(small_graph: Path, snapshot_dir: Path) -> dict:
    code, payload = _json(["train", *FAST, "--out", str(small_graph / "ckpt0")])
    assert code == 0, payload
    return payload


def test_export_matches_the_graph_and_is_stable(
    session_driver: Driver, small_graph: Path, snapshot_dir: Path
) -> None:
    manifest = json.loads((snapshot_dir / "manifest.json").read_text())
    counts = session_driver.execute_query(
        "MATCH (u:User) WITH count(u) AS users MATCH ()-[r:INTERACTED]->() "
        "RETURN users, count(r) AS interactions"
    ).records[0]
    assert manifest["nodes"]["user"] == counts["users"] == 150
    assert manifest["edges"]["interacted"] == counts["interactions"]
    snapshot = read_snapshot(snapshot_dir)
    norms = np.linalg.norm(snapshot.embeddings["item"], axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)
    code, again = _json(["export", "--out", str(small_graph / "snapshot-again")])
    assert code == 0 and again["content_hash"] == manifest["content_hash"]
    assert again["edges_per_second"] > 0


def test_train_prints_the_metrics_contract(trained: dict) -> None:
    assert trained["split"] == "user-random" and trained["model"] == "hetero-lgc"
    # what the last digits can depend on, recorded with them
    environment = trained["environment"]
    assert environment["torch"] == torch.__version__ and environment["threads"] >= 1
    assert environment["cpu_kernels"] == torch.backends.cpu.get_cpu_capability()
    for target in ("user_item", "user_interest"):
        assert set(trained["metrics"][target]) >= METRIC_KEYS
        assert 0 <= trained["metrics"][target]["recall@20"] <= 1
    assert set(trained["baselines"]) == {
        "popularity",
        "mf_bpr",
        "lightgcn",
        "llm_cosine",
        "content",
        "interest_profile",
        "interests_of_items",
        "user_knn",
        "rp3beta",
        "ease",
        "whitened_content",
    }
    # rp3beta's popularity discount, ease's penalty and whitened content's shrinkage: per target
    # the best tried on validation
    for name, key in (("rp3beta", "beta"), ("ease", "penalty"), ("whitened_content", "shrink")):
        chosen = trained["training"][name]
        figures = chosen[f"validation_recall@20_by_{key}"]
        assert set(chosen[key]) == {"user_item", "user_interest"} and len(figures) > 1
        for target, value in chosen[key].items():
            assert figures[str(value)][target] == max(f[target] for f in figures.values())
    assert "user_item" not in trained["baselines"]["interests_of_items"]
    assert "user_interest" not in trained["baselines"]["interest_profile"]
    assert {"mrr@10", "mrr@20"} <= set(trained["metrics"]["user_item"])
    chosen = trained["training"]["ours"]["chosen_variant"]
    validation = trained["training"]["ours"]["validation_recall@20"]
    for target, variant in chosen.items():  # the shipped variant is the best on validation
        assert validation[variant][target] == max(v[target] for v in validation.values())
    # an ensemble of the best variants ships only where it beats the best one on validation
    by_size = trained["training"]["ours"]["validation_recall@20_by_ensemble_size"]
    assert set(by_size) == {"2"}  # two variants trained: one ensemble size to try
    for target, members in trained["training"]["ours"].get("ensemble", {}).items():
        assert sorted(members) == ["full", "lightgcn"]
        assert by_size["2"][target] > max(v[target] for v in validation.values())
    slices = trained["metrics"]["user_item"]["slices"]
    users = sum(slices[s]["users"] for s in ("users_le_5", "users_6_20", "users_gt_20"))
    assert users == trained["metrics"]["user_item"]["users"]
    # a trained model must beat the static popularity list on this dense subset
    assert trained["metrics"]["user_item"]["auc"] > 0.5


def test_same_seed_same_numbers_on_another_thread_count_and_evaluate_agrees(
    small_graph: Path, trained: dict, restore_threads: None
) -> None:
    # bit for bit on another thread count: training sums every gradient in a fixed order
    # (gnn.graph.rows; tests/training/test_determinism.py), so no tolerance hides a drift
    torch.set_num_threads(1 if trained["environment"]["threads"] > 1 else 2)
    code, again = _json(
        ["train", *FAST, "--baselines", "popularity", "--out", str(small_graph / "ckpt-again")]
    )
    assert code == 0
    assert again["environment"]["threads"] != trained["environment"]["threads"]
    assert again["metrics"] == trained["metrics"]
    code, evaluated = _json(
        ["evaluate", "--checkpoint", trained["checkpoint"], "--baselines", "none"]
    )
    assert code == 0
    assert evaluated["metrics"] == trained["metrics"]


def test_held_out_edges_reach_neither_graph_nor_text(snapshot_dir: Path) -> None:
    snapshot = read_snapshot(snapshot_dir)
    texts: list[str] = []

    def record(batch: list[str]) -> np.ndarray:
        texts.extend(batch)
        return np.zeros((len(batch), 384), dtype=np.float32)

    prepared = prepare(snapshot, "user-random", 0, record)
    graph = graph_for(prepared, ModelConfig())
    frame = prepared.targets["user_item"]
    split = prepared.split.targets["user_item"]
    in_graph = graph.edge_index[("user", "user_item", "item")].numpy()
    graph_pairs = set(zip(in_graph[0], in_graph[1], strict=True))
    titles = snapshot.nodes["item"]["name"].to_numpy()
    for rows in (split.val, split.test):
        held = frame.iloc[rows]
        assert not graph_pairs & set(zip(held["src"], held["dst"], strict=True))
        for user, item in zip(held["src"], held["dst"], strict=True):
            assert titles[item] not in texts[user]


def test_checkpoint_refuses_another_snapshot(small_graph: Path, trained: dict) -> None:
    snapshot = read_snapshot(Path(trained["checkpoint"]) / ".." / "snapshot")
    snapshot.edges["interacted"] = snapshot.edges["interacted"].iloc[1:]
    other = small_graph / "snapshot-changed"
    write_snapshot(snapshot, other)
    code, out = _json(["evaluate", "--checkpoint", trained["checkpoint"], "--snapshot", str(other)])
    assert code == 1
    assert "was trained on snapshot" in out["error"]


def _predictions(driver: Driver, run: str) -> list[tuple]:
    return sorted(
        tuple(r.values())
        for r in driver.execute_query(
            "MATCH (u:User)-[p]->(t) WHERE p.run = $run "
            "RETURN type(p), u.id, t.id, p.rank, p.score",
            run=run,
        ).records
    )


def _current(driver: Driver) -> list[str]:
    return [
        r["id"]
        for r in driver.execute_query(
            "MATCH (r:PredictionRun {status: 'current'}) RETURN r.id AS id"
        ).records
    ]


def test_predict_writes_k_new_links_and_switches_runs(
    session_driver: Driver, trained: dict
) -> None:
    code, first = _json(["predict", "--checkpoint", trained["checkpoint"], "--k", "5"])
    assert code == 0, first
    assert first["written"] == {"item": 150 * 5, "interest": 150 * 5}
    per_user = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) MATCH (u:User) "
        "OPTIONAL MATCH (u)-[p:PREDICTED_ITEM {run: r.id}]->(i) "
        "RETURN u.id AS user, count(p) AS n, "
        "sum(CASE WHEN (u)-[:INTERACTED]->(i) THEN 1 ELSE 0 END) AS known"
    ).records
    assert {r["n"] for r in per_user} == {5} and sum(r["known"] for r in per_user) == 0
    code, again = _json(["predict", "--checkpoint", trained["checkpoint"], "--k", "5"])
    assert code == 0 and again["written"] == {"item": 0, "interest": 0}
    assert _current(session_driver) == [first["run"]]


def _kill_midway(args: list[str], driver: Driver, run: str) -> int:
    """Start predict in a subprocess, SIGKILL it once some (not all) of ``run`` is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "interestgraph.cli", *args],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and process.poll() is None:
        written = driver.execute_query(
            "MATCH ()-[p:PREDICTED_ITEM {run: $run}]->() RETURN count(p) AS n", run=run
        ).records[0]["n"]
        if written > 0:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    return written


def test_predict_killed_midway_resumes_to_the_same_graph(
    session_driver: Driver, small_graph: Path, trained: dict
) -> None:
    ckpt_a = trained["checkpoint"]
    code, other = _json(
        ["train", *FAST, "--seed", "1", "--baselines", "none", "--out", str(small_graph / "ckpt1")]
    )
    assert code == 0
    ckpt_b = other["checkpoint"]
    predict_b = ["predict", "--checkpoint", ckpt_b, "--k", "5", "--users-per-transaction", "1"]
    code, reference = _json(predict_b)  # uninterrupted
    assert code == 0
    expected = _predictions(session_driver, reference["run"])
    code, back = _json(["predict", "--checkpoint", ckpt_a, "--k", "5"])
    assert code == 0 and _current(session_driver) == [back["run"]]
    assert _predictions(session_driver, reference["run"]) == []  # the replaced run is gone

    written = _kill_midway(predict_b, session_driver, reference["run"])
    partial = _predictions(session_driver, reference["run"])
    assert 0 < len(partial) < len(expected), "the job was not killed midway"
    assert written > 0
    # readers still see the old run, complete
    assert _current(session_driver) == [back["run"]]
    assert len(_predictions(session_driver, back["run"])) == 2 * 150 * 5

    code, resumed = _json(predict_b)
    assert code == 0 and resumed["resumed"] is True
    assert _current(session_driver) == [reference["run"]]
    assert _predictions(session_driver, reference["run"]) == expected
    assert _predictions(session_driver, back["run"]) == []


def test_readme_recipes_return_what_they_claim(session_driver: Driver, trained: dict) -> None:
    code, _ = _json(["predict", "--checkpoint", trained["checkpoint"], "--k", "5"])
    assert code == 0
    readme = (REPO / "README.md").read_text()
    recipes = dict(re.findall(r"<!-- recipe: (\S+) -->\s*```cypher\n(.*?)```", readme, re.S))
    assert {"expanded-interests", "likely-adopters", "items-because-of-interest"} <= set(recipes)
    user = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) "
        "MATCH (u:User)-[p:PREDICTED_INTEREST {run: r.id}]->(t) "
        "RETURN u.id AS user, t.id AS interest ORDER BY p.score DESC LIMIT 1"
    ).records[0]
    rows = session_driver.execute_query(recipes["expanded-interests"], user=user["user"]).records
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    rows = session_driver.execute_query(
        recipes["likely-adopters"], interest=user["interest"], limit=10
    ).records
    assert user["user"] in [r["user"] for r in rows]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    genre = session_driver.execute_query(
        "MATCH (r:PredictionRun {status: 'current'}) "
        "MATCH (u:User {id: $user})-[:PREDICTED_ITEM {run: r.id}]->(:Item)-[:HAS_INTEREST]->(t) "
        "RETURN t.id AS id LIMIT 1",
        user=user["user"],
    ).records[0]["id"]
    rows = session_driver.execute_query(
        recipes["items-because-of-interest"], user=user["user"], interest=genre
    ).records
    assert rows and all(r["rank"] <= 5 for r in rows)
    assert len({r["item"] for r in rows}) == len(rows)  # each item once, however many sources


def test_tune_resumes_its_study_and_train_takes_the_best(small_graph: Path, trained: dict) -> None:
    storage = small_graph / "study.sqlite"
    args = ["tune", "--epochs", "5", "--storage", str(storage), "--study", "t"]
    code, first = _json([*args, "--trials", "1"])
    assert code == 0, first
    assert first["trials"] == 1 and first["ran_now"] == 1
    code, second = _json([*args, "--trials", "2"])  # a new process continues the same study
    assert code == 0
    assert second["trials"] == 2 and second["ran_now"] == 1
    params = json.loads(Path(second["params_file"]).read_text())
    assert params["model"] == "ours" and set(params) >= {"lr", "reg", "dim", "layers"}
    # the same budget for LightGCN: its own study, its own file
    code, lgcn = _json([*args[:-1], "t-lightgcn", "--baseline", "lightgcn", "--trials", "1"])
    assert code == 0, lgcn
    lgcn_params = json.loads(Path(lgcn["params_file"]).read_text())
    assert lgcn_params["model"] == "lightgcn" and "noise" not in lgcn_params
    code, tuned = _json(
        [
            "train",
            "--epochs",
            "5",
            "--params",
            second["params_file"],
            "--params",
            lgcn["params_file"],
            "--baselines",
            "lightgcn",
            "--out",
            str(small_graph / "ckpt-tuned"),
        ]
    )
    assert code == 0, tuned
    info = json.loads((Path(tuned["checkpoint"]) / "config.json").read_text())
    assert info["model"]["dim"] == params["dim"] and info["model"]["fit"]["lr"] == params["lr"]
    lgcn_config = info["baseline_configs"]["lightgcn"]
    assert (
        lgcn_config["dim"] == lgcn_params["dim"] and lgcn_config["layers"] == lgcn_params["layers"]
    )
    # evaluate retrains the baseline with its tuned configuration, so it prints the same figures
    code, again = _json(
        ["evaluate", "--checkpoint", tuned["checkpoint"], "--baselines", "lightgcn"]
    )
    assert code == 0, again
    trained_recall = tuned["baselines"]["lightgcn"]["user_item"]["recall@20"]
    assert again["baselines"]["lightgcn"]["user_item"]["recall@20"] == pytest.approx(
        trained_recall, abs=1e-3
    )


def test_item_cold_scores_untrained_items_from_text_and_mixes_partners_by_validation(
    small_graph: Path, snapshot_dir: Path
) -> None:
    from gnn.models import EASE_PENALTIES, RP3_BETAS, WHITENING_SHRINKS
    from training.batch_predict import production_graph
    from training.checkpoint import load_checkpoint
    from training.choices import MIX_PARTNERS
    from training.experiment import MIX_WEIGHTS, load_trained

    folder = small_graph / "ckpt-cold"
    code, payload = _json(
        [
            "train",
            "--split",
            "item-cold",
            *FAST,
            "--variants",
            "full",
            "--baselines",
            "content,whitened_content,ease",  # mix partners, reused as baselines, not refitted
            "--content-mix-min-users",
            "1",  # the small graph's few validation users still choose
            "--out",
            str(folder),
        ]
    )
    assert code == 0, payload
    assert {"content", "whitened_content", "ease"} <= set(payload["baselines"])
    # each partner's weight (content, then whitened content, user_knn, rp3beta and ease on
    # top): the best on validation, ties to the model
    ours = payload["training"]["ours"]
    for partner in MIX_PARTNERS:
        by_weight = ours[f"validation_recall@20_by_{partner}_weight"]
        assert set(by_weight) == {str(w) for w in MIX_WEIGHTS}
        for target, weight in ours[f"{partner}_mix"].items():
            best = max(figures[target] for figures in by_weight.values())
            assert by_weight[str(weight)][target] == best
            assert all(by_weight[str(w)][target] < best for w in MIX_WEIGHTS if w > weight)
    mixes = {partner: ours[f"{partner}_mix"] for partner in MIX_PARTNERS}
    assert load_checkpoint(folder).mixes == mixes
    # rp3beta, ease and whitened content mix in at the setting that ranks best alone on the
    # same validation users
    assert set(ours["rp3beta_beta"].values()) <= set(RP3_BETAS)
    assert set(ours["ease_penalty"].values()) <= set(EASE_PENALTIES)
    assert set(ours["whitened_content_shrink"].values()) <= set(WHITENING_SHRINKS)
    settings = {
        "rp3beta": ours["rp3beta_beta"],
        "ease": ours["ease_penalty"],
        "whitened_content": ours["whitened_content_shrink"],
    }
    assert load_checkpoint(folder).partner_settings == settings
    code, again = _json(["evaluate", "--checkpoint", str(folder), "--baselines", "ease"])
    assert code == 0 and again["metrics"] == payload["metrics"]  # the stored mixes, re-applied
    assert again["baselines"] == {"ease": payload["baselines"]["ease"]}  # fitted afresh here
    assert {partner: again[f"{partner}_mix"]["weights"] for partner in mixes} == mixes
    assert again["rp3beta_mix"]["beta"] == ours["rp3beta_beta"]
    assert again["ease_mix"]["penalty"] == ours["ease_penalty"]
    cold = payload["split_summary"]["cold_items"]
    ckpt = load_checkpoint(folder)
    untrained = ~ckpt.trained_nodes["item"]
    assert untrained.sum() >= cold > 0
    snapshot = read_snapshot(snapshot_dir)
    graph, _ = production_graph(ckpt, snapshot)
    # the production graph has every edge, yet only the checkpoint's trained rows get ids
    assert np.array_equal(graph.id_mask["item"].numpy(), ckpt.trained_nodes["item"])
    model = load_trained(ckpt.target_configs, graph, ckpt.state)
    users = torch.arange(graph.num_nodes["user"])
    with torch.no_grad():
        before = model.matrix(model.embed(graph), "user_item", users)
        for network in model.models.values():  # scramble every untrained id row
            table = network.encoder.ids["item"].weight
            table[torch.from_numpy(untrained)] = torch.randn(int(untrained.sum()), table.shape[1])
        after = model.matrix(model.embed(graph), "user_item", users)
        scorer = ckpt.scorer(graph)  # what predict and the server rank with: the mix as chosen
        mixed = scorer.matrix(scorer.embed(graph), "user_item", users)
    assert torch.allclose(before, after)
    assert mixed.shape == before.shape and bool(torch.isfinite(mixed).all())
    model_alone = all(w.get("user_item", 1.0) == 1.0 for w in ckpt.mixes.values())
    assert torch.equal(mixed, after) == model_alone


def test_seeds_report_spread_and_refit_trains_on_every_edge(
    small_graph: Path, snapshot_dir: Path
) -> None:
    from training.checkpoint import load_checkpoint

    folder = small_graph / "ckpt-refit"
    split_dir = small_graph / "split-files"
    code, payload = _json(
        [
            "train",
            *FAST,
            "--seeds",
            "0,1",
            "--refit",
            "--variants",
            "full,lightgcn",
            "--baselines",
            "popularity",
            "--save-split",
            str(split_dir),
            "--out",
            str(folder),
        ]
    )
    assert code == 0, payload
    assert payload["seeds"] == [0, 1] and payload["refit"] is True
    recall = payload["spread"]["ours"]["user_item"]["recall@20"]
    assert (
        len(recall["values"]) == 2
        and recall["mean"] == payload["metrics"]["user_item"]["recall@20"]
    )
    assert set(payload["training"]["per_seed"][0]["ours"]["chosen_variant"].values()) <= {
        "full",
        "lightgcn",
    }
    ckpt = load_checkpoint(folder)
    # each target was refitted as the networks validation chose: its ensemble, or one variant
    first = payload["training"]["per_seed"][0]["ours"]
    assert ckpt.ensembles.keys() == first.get("ensemble", {}).keys()
    for target, members in ckpt.ensembles.items():
        assert list(members) == first["ensemble"][target]
        assert any(k.startswith(f"models.{target}.members.") for k in ckpt.state)
    snapshot = read_snapshot(snapshot_dir)
    interacted = snapshot.edges["interacted"]
    # refitted on every edge: every user and item with an interaction has a trained id row
    assert ckpt.trained_nodes["item"][np.unique(interacted["dst"])].all()
    assert ckpt.trained_nodes["user"][np.unique(interacted["src"])].all()
    code, out = _json(["evaluate", "--checkpoint", str(folder)])
    assert code == 1 and "refitted" in out["error"]
    code, out = _json(["predict", "--checkpoint", str(folder), "--k", "5"])
    assert code == 0, out
    # the saved split reads back as a published split over the same edges
    assert {p.name for p in split_dir.iterdir()} >= {"train.txt", "test.txt", "user_list.txt"}
    code, out = _json(
        [
            "train",
            *FAST,
            "--published",
            str(split_dir),
            "--variants",
            "full",
            "--baselines",
            "none",
            "--out",
            str(small_graph / "ckpt-published"),
        ]
    )
    assert code == 0, out
    assert (
        out["split_summary"]["edges"]["user_item"]["test"]
        == (payload["split_summary"]["edges"]["user_item"]["test"])
    )


def test_fairness_report_groups_users_and_items_and_prices_the_penalty(
    small_graph: Path, snapshot_dir: Path, tmp_path: Path
) -> None:
    data = read_snapshot(snapshot_dir)
    users, items = data.nodes["user"], data.nodes["item"]
    data.nodes["user"] = users.assign(attr_cohort=["odd" if i % 2 else "even" for i in users.index])
    data.nodes["item"] = items.assign(
        attr_shelf=["front" if i % 3 else "back" for i in items.index]
    )
    with_attributes = tmp_path / "snapshot"
    write_snapshot(data, with_attributes)
    quick = ["--epochs", "3", "--dim", "16", "--variants", "full", "--baselines", "none"]
    out = str(tmp_path / "ckpt")
    code, _ = _json(["train", "--snapshot", str(with_attributes), *quick, "--out", out])
    assert code == 0
    base = ["fairness", "--checkpoint", out, "--snapshot", str(with_attributes)]
    code, report = _json(
        [*base, "--by", "attr_cohort", "--by", "attr_shelf", "--baselines", "popularity"]
    )
    assert code == 0, report
    ours = report["ours"]
    assert set(ours["users"]) == {"activity", "attr_cohort"}
    cohorts = ours["users"]["attr_cohort"]["groups"]
    assert set(cohorts) == {"odd", "even"}
    assert sum(g["users"] for g in cohorts.values()) == sum(
        g["users"] for g in ours["users"]["activity"]["groups"].values()
    )
    compared = [g["recall@20"] for g in cohorts.values() if g["users"] >= 10]
    assert ours["users"]["attr_cohort"]["worst_to_best_recall@20"] == pytest.approx(
        min(compared) / max(compared), abs=1e-4
    )
    shelves = ours["items"]["by"]["attr_shelf"]
    assert sum(s["exposure"] for s in shelves.values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= ours["items"]["gini"] < report["baselines"]["popularity"]["items"]["gini"] <= 1
    penalty = {p["weight"]: p for p in report["popularity_penalty"]}
    assert set(penalty) == {0.0, 0.25, 0.5, 1.0}
    assert penalty[0.0]["ndcg@20"] == ours["ndcg@20"]
    assert penalty[1.0]["tail_share"] >= penalty[0.0]["tail_share"]
    code, error = _json([*base, "--by", "attr_nope", "--baselines", "none"])
    assert code != 0 and "attr_nope" in error["error"] and "attr_cohort" in error["error"]


def test_train_distributed_on_two_processes_matches_one(small_graph: Path, trained: dict) -> None:
    out = str(small_graph / "ckpt-ddp")
    args = ["train", *FAST, "--baselines", "none", "--distributed", "--nproc", "2", "--out", out]
    code, ddp = _json(args)
    assert code == 0, ddp
    assert ddp["ranks"] == 2 and ddp["checkpoint"] == out
    for target, figures in trained["metrics"].items():
        # same global batch; XSimGCL's contrastive term sees each rank's slice (see
        # tests/training/test_distributed.py for the exact-match case without it)
        assert abs(ddp["metrics"][target]["recall@20"] - figures["recall@20"]) <= 0.03
    code, evaluated = _json(["evaluate", "--checkpoint", out, "--baselines", "none"])
    assert code == 0
    assert evaluated["metrics"] == ddp["metrics"]


def _shard_rows(folder: Path, target: str) -> pd.DataFrame:
    frames = [pd.read_parquet(f) for f in sorted(folder.glob(f"{target}-*.parquet"))]
    return pd.concat(frames).sort_values(["user", "rank"]).reset_index(drop=True)


def test_sharded_scoring_equals_one_process_and_lands_as_one_run(
    session_driver: Driver, small_graph: Path, trained: dict
) -> None:
    score = ["predict", "--checkpoint", trained["checkpoint"], "--k", "4"]
    chunks = ["--users-per-transaction", "40"]  # 150 users: 4 chunks, dealt to 2 ranks
    two, one = small_graph / "shards-2", small_graph / "shards-1"
    code, manifest = _json([*score, *chunks, "--to-shards", str(two), "--distributed"])
    assert code == 0, manifest
    assert manifest["workers"] == 2 and len(manifest["shards"]) == 4
    assert manifest["rows"] == {"item": 150 * 4, "interest": 150 * 4}
    code, single = _json([*score, *chunks, "--to-shards", str(one)])
    assert code == 0 and single["workers"] == 1
    for target in ("item", "interest"):
        union, reference = _shard_rows(two, target), _shard_rows(one, target)
        assert union.equals(reference)  # ids, ranks and float32 scores, exactly

    code, error = _json([*score[:-1], "5", "--from-shards", str(two)])
    assert code != 0 and "--k" in error["error"]
    code, written = _json([*score, "--from-shards", str(two)])
    assert code == 0, written
    assert written["written"] == {"item": 150 * 4, "interest": 150 * 4}
    assert _current(session_driver) == [written["run"]]
    stored = session_driver.execute_query(
        "MATCH (u:User)-[p:PREDICTED_ITEM {run: $run}]->(i:Item) "
        "RETURN u.id AS user, i.id AS target, p.score AS score, p.rank AS rank",
        run=written["run"],
    ).records
    stored_frame = pd.DataFrame([dict(r) for r in stored]).sort_values(["user", "rank"])
    shards = _shard_rows(two, "item")
    assert stored_frame["target"].tolist() == shards["target"].tolist()
    assert np.allclose(stored_frame["score"], shards["score"], atol=1e-6)

    (two / "item-00001.parquet").write_bytes(b"damaged")
    code, error = _json([*score, "--from-shards", str(two)])
    assert code != 0 and "item-00001.parquet" in error["error"]
    (two / "manifest.json").unlink()
    code, error = _json([*score, "--from-shards", str(two)])
    assert code != 0 and "not a finished" in error["error"]


def test_prepare_split_fills_the_cache_a_train_without_encoder_reads(
    small_graph: Path, snapshot_dir: Path
) -> None:
    """After `prepare-split`, a split's texts are all cached: preparing it again with an encoder
    that cannot load (as in the DGL environment) succeeds; a seed not prepared fails clearly."""
    from training.errors import JobError
    from training.jobs import SplitSpec, prepare_split, user_text_encoder

    code, payload = _json(["prepare-split", "--split", "item-cold", "--seeds", "3,5"])
    assert code == 0, payload
    assert [p["seed"] for p in payload["prepared"]] == [3, 5]
    assert all(p["training_edges"]["user_item"] > 0 for p in payload["prepared"])
    snapshot = read_snapshot(snapshot_dir)
    encode = user_text_encoder(
        snapshot, str(small_graph / "no-such-model"), "cpu", small_graph / "embeddings.sqlite"
    )
    prepared = prepare_split(snapshot, SplitSpec("item-cold"), 5, encode)
    assert prepared.user_features.shape[0] == snapshot.num_nodes("user")
    with pytest.raises(JobError, match="prepare-split"):
        prepare_split(snapshot, SplitSpec("item-cold"), 4, encode)
