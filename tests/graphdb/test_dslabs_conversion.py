"""The held-out MovieLens sample (benchmarks/dslabs_movielens.py) becomes valid generic CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.dslabs_movielens import to_generic_csv
from graphdb.loaders import generic_csv
from graphdb.schema import Label, RelType


def test_denormalised_ratings_split_into_files_the_csv_loader_accepts(tmp_path: Path) -> None:
    # dslabs' shape: one row per rating, the film's title, year and genres repeated on each
    ratings = pd.DataFrame(
        {
            "rownames": [1, 2, 3],
            "movieId": [31, 1029, 31],
            "title": ["Dangerous Minds", "Dumbo", "Dangerous Minds"],
            "year": [1995.0, float("nan"), 1995.0],
            "genres": ["Drama", "Animation|Children", "Drama"],
            "userId": [1, 1, 2],
            "rating": [2.5, 3.0, 4.0],
            "timestamp": [1260759144, 1260759179, 1260759200],
        }
    )
    counts = to_generic_csv(ratings, tmp_path)
    assert counts == {"interactions.csv": 3, "items.csv": 2, "item_interests.csv": 3}

    plan = generic_csv.parse(tmp_path)
    items = next(n for n in plan.nodes if n.label == Label.ITEM).rows
    assert items["31"]["title"] == "Dangerous Minds (1995)"
    assert items["1029"]["title"] == "Dumbo"  # no year: nothing appended
    interacted = next(r for r in plan.relationships if r.rel_type == RelType.INTERACTED).rows
    assert sorted(row["rating"] for row in interacted.values()) == [2.5, 3.0, 4.0]
    assert set(plan.interests.kinds.values()) == {"genre"}
    assert len(plan.interests.kinds) == 3
