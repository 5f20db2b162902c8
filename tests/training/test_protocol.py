"""The evaluation protocol's parts on small tensors: negatives that are never positives, the
spread over seeds, and the split files a peer library reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from training.loop import _sorted_keys, sample_negatives
from training.published import read_index_lines, read_map
from training.split_files import save_split
from training.splits import make_split
from training.spread import aggregate, summarise


def test_negatives_are_never_positives() -> None:
    # user 0 has half the items as positives: no negative of theirs may be one
    src = torch.zeros(500, dtype=torch.long)
    positives = torch.stack([torch.zeros(5, dtype=torch.long), torch.arange(5)])
    keys = _sorted_keys(positives, 10)
    generator = torch.Generator().manual_seed(0)
    negatives, valid = sample_negatives(src, torch.arange(10), keys, 10, generator)
    assert bool(valid.all())
    assert set(negatives.tolist()) == {5, 6, 7, 8, 9}


def test_negatives_that_cannot_avoid_positives_are_dropped() -> None:
    positives = torch.stack([torch.zeros(10, dtype=torch.long), torch.arange(10)])
    generator = torch.Generator().manual_seed(0)
    _, valid = sample_negatives(
        torch.zeros(4, dtype=torch.long),
        torch.arange(10),
        _sorted_keys(positives, 10),
        10,
        generator,
    )
    assert not bool(valid.any())


def test_summarise_gives_sample_sd_and_t_interval() -> None:
    out = summarise([0.1, 0.2, 0.3, 0.4, 0.5])
    assert out["mean"] == 0.3
    assert abs(out["sd"] - 0.15811) < 1e-5
    assert abs(out["ci95"] - 2.776445 * 0.15811 / 5**0.5) < 1e-4


def test_aggregate_keeps_the_metrics_shape() -> None:
    runs = [
        {
            "seed": seed,
            "metrics": {"user_item": {"recall@20": 0.2 + seed / 100, "users": 10}},
            "baselines": {"lightgcn": {"user_item": {"recall@20": 0.2, "users": 10}}},
            "training": {},
        }
        for seed in range(3)
    ]
    out = aggregate(runs)
    assert out["seeds"] == [0, 1, 2]
    assert out["metrics"]["user_item"]["recall@20"] == 0.21
    assert out["metrics"]["user_item"]["users"] == 10
    assert out["spread"]["lightgcn"]["user_item"]["recall@20"]["sd"] == 0.0
    assert out["spread"]["ours"]["user_item"]["recall@20"]["values"] == [0.2, 0.21, 0.22]


def test_saved_split_reads_back_as_the_same_edges(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pairs = {(u, i) for u in range(30) for i in rng.choice(40, 8, replace=False)}
    src, dst = zip(*sorted(pairs), strict=True)
    edges = pd.DataFrame({"src": src, "dst": dst, "weight": 1.0, "ts": -1})
    split = make_split("user-random", {"user_item": edges}, 40, seed=1)
    users = pd.Series([f"u{k}" for k in range(30)])
    items = pd.Series([f"i{k}" for k in range(40)])
    counts = save_split(tmp_path / "split", "toy", users, items, edges, split)
    part = split.targets["user_item"]
    assert counts == {"train": len(part.train), "valid": len(part.val), "test": len(part.test)}
    item_names = read_map(tmp_path / "split" / "item_list.txt")
    user_names = read_map(tmp_path / "split" / "user_list.txt")
    test = {
        (user_names[u], item_names[i])
        for u, row in read_index_lines(tmp_path / "split" / "test.txt")
        for i in row
    }
    expected = {(f"u{s}", f"i{d}") for s, d in edges.iloc[part.test][["src", "dst"]].to_numpy()}
    assert test == expected
    recbole = pd.read_csv(tmp_path / "split" / "toy.valid.inter", sep="\t")
    assert list(recbole.columns) == ["user_id:token", "item_id:token"]
    assert len(recbole) == len(part.val)
