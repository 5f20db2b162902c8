"""HetRec 2011 Last.fm 2K: users, artists, listening counts, tags, tag assignments, friendships.

Graph produced:
  (:User {id}), (:Item {id, title: artist name, url})
  (:User)-[:INTERACTED {weight: listening count}]->(:Item)
  (:Interest {kind:'tag'}) from tags.dat (Latin-1), normalised like every tag
  (:User)-[:TAGGED {interest, ts: first, count}]->(:Item)      one per tag assignment
  and, derived from the assignments (``graphdb.loaders.tag_events``):
  (:User)-[:INTERESTED_IN {source:'tagging', weight: assignments, ts: first}]->(:Interest)
  (:Item)-[:HAS_INTEREST {source:'user_tag', weight: users who assigned it}]->(:Interest)
  (:User)-[:FRIEND]->(:User)   one per directed pair of user_friends.dat

1,538 assignments in the released file tag 390 artists that artists.dat lacks: they still count
towards the user's interest in the tag, but give no item edge and no TAGGED event (reported
under ``skipped``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from graphdb.errors import DataValidationError
from graphdb.loaders.plan import GraphPlan, NodeSet, RelSet, namespaced
from graphdb.loaders.tables import (
    TAB,
    Column,
    TableFormat,
    bounded,
    parse_int,
    parse_optional_text,
    parse_text,
    read_rows,
    require_files,
)
from graphdb.loaders.tag_events import TagEvents
from graphdb.schema import Label, RelType

DATASET = "lastfm-hetrec"
REQUIRED_FILES = (
    "artists.dat",
    "tags.dat",
    "user_artists.dat",
    "user_friends.dat",
    "user_taggedartists.dat",
)
LATIN1_TAB = TableFormat(delimiter="\t", encoding="latin-1", quoting=TAB.quoting)


def parse(data_dir: Path, namespace: str | None = None) -> GraphPlan:
    """Read and validate the five files into a plan; raises DataValidationError on bad input."""
    require_files(data_dir, DATASET, REQUIRED_FILES)
    plan = GraphPlan(DATASET)
    users = NodeSet(Label.USER)
    items = NodeSet(Label.ITEM)

    artist_ids: set[int] = set()
    for _, row in read_rows(
        data_dir / "artists.dat",
        [
            Column("id", parse_int),
            Column("name", parse_text),
            Column("url", parse_optional_text),
            Column("pictureURL", parse_optional_text),
        ],
        TAB,
    ):
        artist_ids.add(row["id"])
        items.add(namespaced(namespace, row["id"]), title=row["name"], url=row["url"])

    path = data_dir / "user_artists.dat"
    interacted = RelSet(RelType.INTERACTED, Label.USER, Label.ITEM)
    for line, row in read_rows(
        path,
        [
            Column("userID", parse_int),
            Column("artistID", parse_int),
            Column("weight", bounded(parse_int, 0, 10**12)),
        ],
        TAB,
    ):
        if row["artistID"] not in artist_ids:
            raise DataValidationError(
                str(path),
                f"artistID {row['artistID']} is not in artists.dat",
                line=line,
                column="2 (artistID)",
            )
        user_id = namespaced(namespace, row["userID"])
        users.add(user_id)
        interacted.add(user_id, namespaced(namespace, row["artistID"]), weight=float(row["weight"]))

    tag_names: dict[int, str] = {}
    for _, row in read_rows(
        data_dir / "tags.dat",
        [
            Column("tagID", parse_int),
            Column("tagValue", parse_text),
        ],
        LATIN1_TAB,
    ):
        tag_names[row["tagID"]] = row["tagValue"]

    path = data_dir / "user_taggedartists.dat"
    events = TagEvents()
    unknown_artist = 0
    empty_tag = 0
    for line, row in read_rows(
        path,
        [
            Column("userID", parse_int),
            Column("artistID", parse_int),
            Column("tagID", parse_int),
            Column("day", bounded(parse_int, 1, 31)),
            Column("month", bounded(parse_int, 1, 12)),
            Column("year", bounded(parse_int, 1900, 2100)),
        ],
        TAB,
    ):
        if row["tagID"] not in tag_names:
            raise DataValidationError(
                str(path), f"tagID {row['tagID']} is not in tags.dat", line=line, column="3 (tagID)"
            )
        interest_id = plan.interests.add(tag_names[row["tagID"]], "tag")
        if interest_id is None:
            empty_tag += 1
            continue
        try:
            ts = int(datetime(row["year"], row["month"], row["day"], tzinfo=UTC).timestamp())
        except ValueError as e:
            raise DataValidationError(
                str(path), str(e), line=line, column="4-6 (day/month/year)"
            ) from None
        user_id = namespaced(namespace, row["userID"])
        users.add(user_id)
        known = row["artistID"] in artist_ids
        unknown_artist += not known
        item_id = namespaced(namespace, row["artistID"]) if known else None
        events.add(user_id, item_id, interest_id, ts)

    path = data_dir / "user_friends.dat"
    friends = RelSet(RelType.FRIEND, Label.USER, Label.USER)
    for _, row in read_rows(
        path, [Column("userID", parse_int), Column("friendID", parse_int)], TAB
    ):
        a, b = namespaced(namespace, row["userID"]), namespaced(namespace, row["friendID"])
        users.add(a)
        users.add(b)
        friends.add(a, b)

    plan.nodes = [users, items]
    plan.relationships = [interacted, *events.relationships(), friends]
    if unknown_artist:
        plan.skipped["item_tag_edges_to_artists_missing_from_artists_dat"] = unknown_artist
    if empty_tag:
        plan.skipped["tag_assignments_empty_after_normalisation"] = empty_tag
    return plan
