"""The generic CSV format, so anyone can load their own data without writing Python.

A folder with these UTF-8, comma-separated files (header line first; columns matched by name,
unknown columns rejected so that a typo is never silently dropped). Only ``interactions.csv`` is
required; users and items it mentions are created even without ``users.csv`` / ``items.csv``.

=====================  ===========================================  ===========================
file                   required columns                             optional columns
=====================  ===========================================  ===========================
interactions.csv       user_id, item_id                             weight (default 1), rating,
                                                                    ts (unix seconds)
users.csv              user_id                                      name, text, attr_*
items.csv              item_id                                      title, text, attr_*
item_interests.csv     item_id, interest                            kind (default tag), weight
user_interests.csv     user_id, interest                            kind (default tag), weight
tag_events.csv         user_id, item_id, interest                   ts (unix seconds)
=====================  ===========================================  ===========================

``tag_events.csv`` holds tagging events (a user applied a tag to an item): they are kept as
``TAGGED`` relationships, and the folded ``INTERESTED_IN {source:'tagging'}`` and
``HAS_INTEREST {source:'user_tag'}`` edges are derived from them (``graphdb.loaders.tag_events``).

``attr_*`` columns of ``users.csv`` and ``items.csv`` (``attr_country``, ``attr_age_band``,
``attr_provider`` …) are attributes: stored as text properties of the node, exported, grouped
by ``interestgraph fairness --by``, and never part of a node's text or a model feature.

Repeated (user, item) rows are folded into one INTERACTED edge: weights add up, the latest
rating and timestamp win. Interests are normalised like every tag (case, spaces, punctuation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphdb.errors import DataValidationError
from graphdb.loaders.plan import GraphPlan, NodeSet, RelSet, namespaced, normalize_interest
from graphdb.loaders.tables import (
    MAX_KEY_BYTES,
    Column,
    parse_float,
    parse_int,
    parse_key,
    parse_optional_key,
    parse_optional_text,
    read_rows,
    require_files,
)
from graphdb.loaders.tag_events import TagEvents
from graphdb.schema import Label, RelType

DATASET = "csv"
REQUIRED_FILES = ("interactions.csv",)
INTEREST_KINDS = ("genre", "tag", "topic")


def _kind(value: str) -> str:
    kind = value.strip().lower() or "tag"
    if kind not in INTEREST_KINDS:
        raise ValueError(f"kind must be one of {INTEREST_KINDS}, got {value!r}")
    return kind


def _optional_float(value: str) -> float | None:
    return parse_float(value) if value.strip() else None


def _optional_int(value: str) -> int | None:
    return parse_int(value) if value.strip() else None


def _add_interest(plan: GraphPlan, raw: str, kind: str, path: Path, line: int) -> str:
    """Register an interest spelling; its normalised id must be non-empty and indexable
    (NFKC can lengthen a name)."""
    problem = None
    interest_id = normalize_interest(raw)
    if not interest_id:
        problem = "interest has no letters or digits"
    elif len(interest_id.encode("utf-8")) > MAX_KEY_BYTES:
        problem = f"interest normalises to more than {MAX_KEY_BYTES} bytes"
    if problem:
        raise DataValidationError(str(path), problem, line=line, column="interest")
    return str(plan.interests.add(raw, kind))


def parse(data_dir: Path, namespace: str | None = None) -> GraphPlan:
    """Read and validate the folder into a plan; raises DataValidationError on bad input."""
    require_files(data_dir, DATASET, REQUIRED_FILES)
    plan = GraphPlan(DATASET)
    users = NodeSet(Label.USER)
    items = NodeSet(Label.ITEM)

    def read(
        name: str, columns: list[Column], attributes: bool = False
    ) -> list[tuple[int, dict[str, Any]]]:
        path = data_dir / name
        if not path.exists():
            return []
        return list(read_rows(path, columns, exact_header=False, attributes=attributes))

    for _, row in read(
        "users.csv",
        [
            Column("user_id", parse_key),
            Column("name", parse_optional_text, required=False),
            Column("text", parse_optional_text, required=False),
        ],
        attributes=True,
    ):
        users.add(
            namespaced(namespace, row["user_id"]),
            name=row.get("name"),
            text=row.get("text"),
            **row["attributes"],
        )
    for _, row in read(
        "items.csv",
        [
            Column("item_id", parse_key),
            Column("title", parse_optional_key, required=False),
            Column("text", parse_optional_text, required=False),
        ],
        attributes=True,
    ):
        items.add(
            namespaced(namespace, row["item_id"]),
            title=row.get("title"),
            text=row.get("text"),
            **row["attributes"],
        )

    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in read(
        "interactions.csv",
        [
            Column("user_id", parse_key),
            Column("item_id", parse_key),
            Column("weight", _optional_float, required=False),
            Column("rating", _optional_float, required=False),
            Column("ts", _optional_int, required=False),
        ],
    ):
        user_id = namespaced(namespace, row["user_id"])
        item_id = namespaced(namespace, row["item_id"])
        users.add(user_id)
        items.add(item_id)
        weight = row.get("weight")
        edge = merged.setdefault((user_id, item_id), {"weight": 0.0})
        edge["weight"] += 1.0 if weight is None else weight
        if row.get("ts") is None or row["ts"] >= edge.get("ts", row["ts"]):
            for key in ("rating", "ts"):
                if row.get(key) is not None:
                    edge[key] = row[key]
    interacted = RelSet(RelType.INTERACTED, Label.USER, Label.ITEM)
    for (user_id, item_id), props in merged.items():
        interacted.add(user_id, item_id, **props)
    plan.relationships.append(interacted)
    if not merged:
        raise DataValidationError(str(data_dir / "interactions.csv"), "has no data rows")

    interest_columns = [
        Column("interest", parse_key),
        Column("kind", _kind, required=False),
        Column("weight", _optional_float, required=False),
    ]
    for name, id_column, label, node_set, rel_type, source in (
        ("item_interests.csv", "item_id", Label.ITEM, items, RelType.HAS_INTEREST, "catalog"),
        ("user_interests.csv", "user_id", Label.USER, users, RelType.INTERESTED_IN, "explicit"),
    ):
        rels = RelSet(rel_type, label, Label.INTEREST, source=source)
        for line, row in read(name, [Column(id_column, parse_key), *interest_columns]):
            interest_id = _add_interest(
                plan, row["interest"], row.get("kind") or "tag", data_dir / name, line
            )
            node_id = namespaced(namespace, row[id_column])
            node_set.add(node_id)
            weight = row.get("weight")
            rels.add(node_id, interest_id, weight=1.0 if weight is None else weight)
        if rels.rows:
            plan.relationships.append(rels)
    events = TagEvents()
    for line, row in read(
        "tag_events.csv",
        [
            Column("user_id", parse_key),
            Column("item_id", parse_key),
            Column("interest", parse_key),
            Column("ts", _optional_int, required=False),
        ],
    ):
        interest_id = _add_interest(plan, row["interest"], "tag", data_dir / "tag_events.csv", line)
        user_id = namespaced(namespace, row["user_id"])
        item_id = namespaced(namespace, row["item_id"])
        users.add(user_id)
        items.add(item_id)
        events.add(user_id, item_id, interest_id, row.get("ts"))
    plan.relationships.extend(events.relationships())
    plan.nodes = [users, items]
    return plan
