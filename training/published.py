"""Published splits in the LightGCN text format (``train.txt`` / ``test.txt``, one line
``user item item …`` of 0-based indices), as LightGCN, CoLaKG and many papers release them.

``user_map.txt`` / ``item_map.txt`` (``original_id index`` per line; LightGCN's own data names
them ``user_list.txt`` / ``item_list.txt`` under an ``org_id remap_id`` header) join the indices to
the ids in the snapshot, so the graph's tags and texts become features while the interactions are
exactly the paper's. Every interaction outside the published files is dropped from the
training graph (it could be a test edge of the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from graphdb.snapshot import Snapshot


class PublishedSplitError(ValueError):
    """A published-split folder that cannot be read or joined; the message names file:line."""


@dataclass
class PublishedSplit:
    edges: pd.DataFrame  # src, dst, weight, ts in snapshot indices
    is_train: np.ndarray  # bool per edge row
    items: np.ndarray  # the paper's item universe (snapshot indices)
    source: str


def read_index_lines(path: Path) -> list[tuple[int, list[int]]]:
    """``user item item …`` lines as (user, items); a non-integer names file:line."""
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                values = [int(v) for v in fields]
            except ValueError:
                raise PublishedSplitError(
                    f"{path}:{number}: expected integers, got {line.strip()[:60]!r}"
                ) from None
            rows.append((values[0], values[1:]))
    return rows


def read_map(path: Path) -> dict[int, str]:
    """``original_id index`` lines → index → original id. A first line whose index is not a
    number is a header (LightGCN's own ``user_list.txt`` starts ``org_id remap_id``)."""
    out = {}
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if number == 1 and len(fields) == 2 and not fields[1].isdigit():
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise PublishedSplitError(
                    f"{path}:{number}: expected 'original_id index', got {line.strip()[:60]!r}"
                )
            out[int(fields[1])] = fields[0]
    return out


def load_published(folder: Path, snapshot: Snapshot, id_prefix: str = "") -> PublishedSplit:
    """Read a LightGCN-format split and join it to the snapshot's users and items."""
    folder = Path(folder)
    for name in ("train.txt", "test.txt"):
        if not (folder / name).exists():
            raise PublishedSplitError(
                f"{folder / name}: not found (a published split needs train.txt, test.txt "
                "and the id maps user_map.txt / item_map.txt or user_list.txt / item_list.txt)"
            )
    user_map, item_map = _map_file(folder, "user"), _map_file(folder, "item")
    users = _lookup(read_map(user_map), snapshot.nodes["user"]["id"], id_prefix, user_map)
    items = _lookup(read_map(item_map), snapshot.nodes["item"]["id"], id_prefix, item_map)
    src, dst, train = [], [], []
    for name, is_train in (("train.txt", True), ("test.txt", False)):
        for user, user_items in read_index_lines(folder / name):
            if user not in users:
                raise PublishedSplitError(
                    f"{folder / name}: user index {user} is not in {user_map.name}"
                )
            for item in user_items:
                if item not in items:
                    raise PublishedSplitError(
                        f"{folder / name}: item index {item} is not in {item_map.name}"
                    )
                src.append(users[user])
                dst.append(items[item])
                train.append(is_train)
    edges = pd.DataFrame({"src": src, "dst": dst, "weight": 1.0, "ts": -1})
    keep = ~edges.duplicated(["src", "dst"])
    return PublishedSplit(
        edges=edges[keep].reset_index(drop=True),
        is_train=np.asarray(train)[keep.to_numpy()],
        items=np.sort(np.fromiter(items.values(), dtype=np.int64)),
        source=str(folder),
    )


def _map_file(folder: Path, kind: str) -> Path:
    """CoLaKG names its maps ``user_map.txt``; LightGCN's own data calls them ``user_list.txt``."""
    for name in (f"{kind}_map.txt", f"{kind}_list.txt"):
        if (folder / name).exists():
            return folder / name
    raise PublishedSplitError(
        f"{folder / f'{kind}_map.txt'}: not found (nor {kind}_list.txt): a published split needs "
        f"the map from its {kind} indices to the graph's ids, one 'original_id index' per line"
    )


def _lookup(mapping: dict[int, str], ids: pd.Series, prefix: str, path: Path) -> dict[int, int]:
    index = pd.Index(ids)
    out = {}
    for position, original in mapping.items():
        row = index.get_indexer([f"{prefix}{original}"])[0]
        if row < 0:
            raise PublishedSplitError(
                f"{path}: id {prefix}{original!s} (index {position}) is not in the snapshot; "
                "wrong dataset or --id-prefix?"
            )
        out[position] = int(row)
    return out
