"""Splits on the real MovieLens ratings: disjoint parts, per-user shares, fixed seeds, the
cold modes' promises, and the published LightGCN-format loader on the CoLaKG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphdb.snapshot import Snapshot
from training.published import PublishedSplitError, load_published
from training.splits import COLD_USER_KEEP, make_split


@pytest.fixture(scope="module")
def ratings(datasets_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(datasets_dir / "movielens-small" / "ratings.csv")
    users = {u: i for i, u in enumerate(sorted(frame["userId"].unique()))}
    items = {m: i for i, m in enumerate(sorted(frame["movieId"].unique()))}
    return pd.DataFrame(
        {
            "src": frame["userId"].map(users),
            "dst": frame["movieId"].map(items),
            "weight": frame["rating"] / 5,
            "ts": frame["timestamp"],
        }
    )


def _pairs(frame: pd.DataFrame, rows: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(frame["src"].to_numpy()[rows], frame["dst"].to_numpy()[rows], strict=True))


@pytest.mark.parametrize(
    "mode", ["user-random", "temporal", "temporal-user", "item-cold", "user-cold"]
)
def test_parts_are_disjoint_and_cover_every_edge(ratings: pd.DataFrame, mode: str) -> None:
    split = make_split(mode, {"user_item": ratings}, int(ratings["dst"].max()) + 1, seed=3)
    part = split.targets["user_item"]
    rows = np.concatenate([part.train, part.val, part.test])
    assert len(rows) == len(ratings) == len(np.unique(rows))
    train = _pairs(ratings, part.train)
    assert not train & _pairs(ratings, part.val)
    assert not train & _pairs(ratings, part.test)
    assert len(part.val) > 0 and len(part.test) > 0


def test_user_random_shares_and_seeds(ratings: pd.DataFrame) -> None:
    first = make_split("user-random", {"user_item": ratings}, 0, seed=0).targets["user_item"]
    again = make_split("user-random", {"user_item": ratings}, 0, seed=0).targets["user_item"]
    other = make_split("user-random", {"user_item": ratings}, 0, seed=1).targets["user_item"]
    assert np.array_equal(first.test, again.test) and np.array_equal(first.val, again.val)
    assert not np.array_equal(first.test, other.test)
    # each user (all have >= 20 ratings) holds out round(10%) to test and to validation
    counts = ratings.groupby("src").size()
    test_counts = ratings.iloc[first.test].groupby("src").size()
    expected = np.maximum(1, np.floor(counts * 0.1 + 0.5)).astype(int)
    assert (test_counts.reindex(counts.index) == expected).all()


def test_temporal_user_holds_out_each_users_latest(ratings: pd.DataFrame) -> None:
    part = make_split("temporal-user", {"user_item": ratings}, 0, seed=0).targets["user_item"]
    train_last = ratings.iloc[part.train].groupby("src")["ts"].max()
    val_first = ratings.iloc[part.val].groupby("src")["ts"].min()
    test_first = ratings.iloc[part.test].groupby("src")["ts"].min()
    val_last = ratings.iloc[part.val].groupby("src")["ts"].max()
    assert (train_last.reindex(val_first.index) <= val_first).all()
    assert (val_last.reindex(test_first.index) <= test_first).all()


def test_item_cold_items_have_no_training_edge(ratings: pd.DataFrame) -> None:
    split = make_split("item-cold", {"user_item": ratings}, 0, seed=0)
    part = split.targets["user_item"]
    train_items = set(ratings["dst"].to_numpy()[part.train])
    assert not train_items & set(split.cold_items)
    assert set(part.candidates["test"]) | set(part.candidates["val"]) == set(split.cold_items)
    assert len(split.cold_items) == round(ratings["dst"].nunique() * 0.1)


def test_user_cold_users_keep_at_most_three(ratings: pd.DataFrame) -> None:
    split = make_split("user-cold", {"user_item": ratings}, 0, seed=0)
    part = split.targets["user_item"]
    kept = ratings.iloc[part.train].groupby("src").size()
    assert (kept.reindex(split.cold_users) == COLD_USER_KEEP).all()
    held_users = set(ratings["src"].to_numpy()[np.r_[part.val, part.test]])
    assert held_users == set(split.cold_users)


def test_unknown_mode_is_named(ratings: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="--split must be one of"):
        make_split("random", {"user_item": ratings}, 0)


def _lastfm_like_snapshot(datasets_dir: Path) -> Snapshot:
    users = pd.read_csv(datasets_dir / "lastfm-hetrec-2k" / "user_artists.dat", sep="\t")
    artists = pd.read_csv(datasets_dir / "lastfm-hetrec-2k" / "artists.dat", sep="\t")
    nodes = {
        "user": pd.DataFrame({"id": sorted({str(u) for u in users["userID"]})}),
        "item": pd.DataFrame({"id": sorted(str(a) for a in artists["id"])}),
        "interest": pd.DataFrame({"id": []}),
    }
    return Snapshot(nodes, {}, {})


def test_published_split_joins_every_line(datasets_dir: Path) -> None:
    folder = datasets_dir / "colakg-lastfm"
    published = load_published(folder, _lastfm_like_snapshot(datasets_dir))
    # the README's counts: 57,786 training and 13,508 test interactions over 2,813 artists
    assert int(published.is_train.sum()) == 57786
    assert int((~published.is_train).sum()) == 13508
    assert len(published.items) == 2813


def test_published_split_errors_name_file_and_line(datasets_dir: Path, tmp_path: Path) -> None:
    for name in ("user_map.txt", "item_map.txt", "test.txt"):
        (tmp_path / name).write_bytes((datasets_dir / "colakg-lastfm" / name).read_bytes())
    (tmp_path / "train.txt").write_text("0 1 2\n1 x 3\n")
    with pytest.raises(PublishedSplitError, match=r"train.txt:2: expected integers"):
        load_published(tmp_path, _lastfm_like_snapshot(datasets_dir))


def test_published_split_reads_lightgcn_list_files_with_header(
    datasets_dir: Path, tmp_path: Path
) -> None:
    """LightGCN's own folders name the maps user_list.txt / item_list.txt under a header."""
    source = datasets_dir / "colakg-lastfm"
    for name in ("train.txt", "test.txt"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    for kind in ("user", "item"):
        body = (source / f"{kind}_map.txt").read_text()
        (tmp_path / f"{kind}_list.txt").write_text("org_id remap_id\n" + body)
    published = load_published(tmp_path, _lastfm_like_snapshot(datasets_dir))
    assert int(published.is_train.sum()) == 57786 and len(published.items) == 2813
    (tmp_path / "item_list.txt").unlink()
    with pytest.raises(PublishedSplitError, match=r"item_map.txt: not found \(nor item_list.txt\)"):
        load_published(tmp_path, _lastfm_like_snapshot(datasets_dir))
