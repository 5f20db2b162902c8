"""``train --save-split DIR``: the exact user→item split on disk, so a peer library can be run on
the identical edges.

- LightGCN's text format: ``train.txt`` (training + validation edges: LightGCN and most papers
  train on both and have no validation file), ``valid.txt`` (the validation part alone),
  ``test.txt``, one ``user item item …`` line per user of 0-based indices, and the id maps
  ``user_list.txt`` / ``item_list.txt`` (``org_id remap_id`` header, LightGCN's own layout).
  ``interestgraph train --published DIR`` reads it back.
- RecBole benchmark files: ``NAME.train.inter``, ``NAME.valid.inter``, ``NAME.test.inter``
  (tab-separated, ``user_id:token``, ``item_id:token`` header), for RecBole's
  ``benchmark_filename`` option.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graphdb.files import atomic_folder
from training.splits import Split


def save_split(
    folder: Path, name: str, users: pd.Series, items: pd.Series, edges: pd.DataFrame, split: Split
) -> dict[str, int]:
    """Write ``split``'s user→item parts in both formats (atomically); returns edge counts."""
    for kind, ids in (("user", users), ("item", items)):
        bad = ids[ids.astype(str).str.contains(r"\s", regex=True)]
        if len(bad):
            raise ValueError(
                f"{kind} id {bad.iloc[0]!r} contains whitespace: the formats split on it"
            )
    part = split.targets["user_item"]
    pairs = edges[["src", "dst"]].to_numpy()
    parts = {"train": pairs[part.train], "valid": pairs[part.val], "test": pairs[part.test]}
    with atomic_folder(folder) as staging:
        _index_lines(staging / "train.txt", np.concatenate([parts["train"], parts["valid"]]))
        _index_lines(staging / "valid.txt", parts["valid"])
        _index_lines(staging / "test.txt", parts["test"])
        for kind, ids in (("user", users), ("item", items)):
            lines = ["org_id remap_id", *(f"{v} {i}" for i, v in enumerate(ids.astype(str)))]
            (staging / f"{kind}_list.txt").write_text("\n".join(lines) + "\n")
        for part_name, rows in parts.items():
            frame = pd.DataFrame(
                {
                    "user_id:token": users.astype(str).to_numpy()[rows[:, 0]],
                    "item_id:token": items.astype(str).to_numpy()[rows[:, 1]],
                }
            )
            frame.to_csv(staging / f"{name}.{part_name}.inter", sep="\t", index=False)
    return {k: len(v) for k, v in parts.items()}


def _index_lines(path: Path, pairs: np.ndarray) -> None:
    """``user item item …`` per user with at least one pair, users and items ascending."""
    order = np.lexsort((pairs[:, 1], pairs[:, 0])) if len(pairs) else np.zeros(0, dtype=int)
    lines: dict[int, list[str]] = {}
    for user, item in pairs[order]:
        lines.setdefault(int(user), []).append(str(int(item)))
    path.write_text("".join(f"{u} {' '.join(v)}\n" for u, v in lines.items()))
