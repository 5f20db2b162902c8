"""A validated, in-memory picture of what a load will write, and the batched writer for it.

Loaders build a :class:`GraphPlan` completely (reading and checking every file) before
:func:`write_plan` sends a single statement, which is what makes bad input harmless. Writes are
idempotent MERGEs in ``UNWIND`` batches, so a load interrupted by a crash is finished by running
it again.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver
from tqdm import tqdm

from graphdb import queries
from graphdb.failpoints import reach
from graphdb.interests import canonical_ids
from graphdb.schema import Label, RelType, ensure_schema

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_interest(text: str) -> str:
    """Normalise free text to an Interest id: NFKC, case-folded, punctuation to spaces.

    ``"Sci-Fi"``, ``" sci fi "`` and ``"SCI_FI!"`` all become ``"sci fi"``; merging ``scifi`` and
    ``science fiction`` into it is the canonicaliser's job (features layer), not this one's.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def namespaced(namespace: str | None, raw_id: int | str) -> str:
    """A user or item id as the graph keys it: ``"NS:raw"`` under ``--namespace NS``, else the
    raw id, so several datasets share one database without their ids colliding."""
    return f"{namespace}:{raw_id}" if namespace else str(raw_id)


@dataclass
class NodeSet:
    """Nodes of one label, keyed by id, with the properties to set."""

    label: Label
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, node_id: str, **props: Any) -> None:
        """Add or update a node; properties set to None are left out."""
        self.rows.setdefault(node_id, {}).update({k: v for k, v in props.items() if v is not None})


@dataclass
class InterestSet:
    """Interest nodes by normalised id, remembering every original spelling and its frequency."""

    kinds: dict[str, str] = field(default_factory=dict)
    spellings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, raw: str, kind: str) -> str | None:
        """Register one occurrence of ``raw``; returns its id, or None if nothing is left of it."""
        interest_id = normalize_interest(raw)
        if not interest_id:
            return None
        self.kinds.setdefault(interest_id, kind)
        self.spellings[interest_id][raw] += 1
        return interest_id

    def rows(self) -> list[dict[str, Any]]:
        """Rows for :data:`graphdb.queries.MERGE_INTERESTS`; ``name`` is the commonest spelling."""
        return [
            {
                "id": interest_id,
                "kind": kind,
                "name": self.spellings[interest_id].most_common(1)[0][0],
                "aliases": sorted(self.spellings[interest_id]),
            }
            for interest_id, kind in self.kinds.items()
        ]


def combine_edges(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One edge standing for two that canonicalisation made coincide: ``weight`` and ``count``
    added, the earliest ``ts`` kept, other properties from ``first``. The graph-side merge
    (``graphdb.interests.COLLAPSE_DUPLICATES``) applies the same rule, so an ingest after
    canonicalisation computes exactly the values the merge left."""
    combined = {**second, **first}
    for key in ("weight", "count"):
        if key in first or key in second:
            combined[key] = first.get(key, 0) + second.get(key, 0)
    times = [t for t in (first.get("ts"), second.get("ts")) if t is not None]
    if times:
        combined["ts"] = min(times)
    return combined


@dataclass
class RelSet:
    """Relationships of one type between two labels, one per (start, end) pair.

    ``source`` (when set) is part of the relationship's identity, so a loader's edges never
    overwrite another source's edges between the same two nodes. ``identity`` names one more
    property that is part of it: a tagging event ``(:User)-[:TAGGED {interest}]->(:Item)`` is one
    relationship per (user, item, interest), so the same two nodes hold one edge per tag.
    ``complete`` says the set holds *every* edge of its type and source (``True``), or every
    such edge ending at the given ids (a frozenset: ``llm`` proposals are recomputed one
    interest kind at a time): a derived source recomputed whole, so writing it deletes the edges
    of that source (and ends) it no longer holds, and a re-run converges instead of
    accumulating.
    """

    rel_type: RelType
    start: Label
    end: Label
    source: str | None = None
    identity: str | None = None
    complete: bool | frozenset[str] = False
    rows: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def add(self, start_id: str, end_id: str, **props: Any) -> None:
        """Add one relationship (a repeated key replaces the earlier); None props are dropped."""
        clean = {k: v for k, v in props.items() if v is not None}
        if self.source is not None:
            clean["source"] = self.source
        self.rows[self.key(start_id, end_id, clean)] = clean

    def remap_interests(self, canonical: dict[str, str]) -> None:
        """Point Interest ends (and a TAGGED event's ``interest``) at canonical ids, combining
        rows that then coincide with :func:`combine_edges`."""
        starts, ends = self.start is Label.INTEREST, self.end is Label.INTEREST
        if not (starts or ends or self.identity == "interest") or not canonical:
            return
        remapped: dict[tuple[str, ...], dict[str, Any]] = {}
        for key, props in self.rows.items():
            start_id = canonical.get(key[0], key[0]) if starts else key[0]
            end_id = canonical.get(key[1], key[1]) if ends else key[1]
            if self.identity == "interest":
                props = {**props, "interest": canonical.get(props["interest"], props["interest"])}
            new_key = self.key(start_id, end_id, props)
            earlier = remapped.get(new_key)
            remapped[new_key] = props if earlier is None else combine_edges(earlier, props)
        self.rows = remapped

    def key(self, start_id: str, end_id: str, props: dict[str, Any]) -> tuple[str, ...]:
        """What makes a relationship of this set unique: its ends, plus the identity property."""
        if self.identity is None:
            return (start_id, end_id)
        return (start_id, end_id, str(props[self.identity]))


@dataclass
class GraphPlan:
    """Everything one ingest will write, already validated."""

    dataset: str
    nodes: list[NodeSet] = field(default_factory=list)
    interests: InterestSet = field(default_factory=InterestSet)
    relationships: list[RelSet] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def relationship_rows(self) -> int:
        """How many relationship rows the plan writes."""
        return sum(len(r.rows) for r in self.relationships)

    def apply_canonical(self, canonical: dict[str, str]) -> int:
        """Rewrite interest ids that canonicalisation merged away (``old → canonical``) to their
        canonical id, so a re-ingest after ``canonicalize-interests`` neither re-creates the
        merged interests nor doubles their edges; returns how many ids were rewritten."""
        merged = [i for i in self.interests.kinds if i in canonical]
        for old in merged:
            new = canonical[old]
            self.interests.kinds.setdefault(new, self.interests.kinds.pop(old))
            self.interests.spellings[new].update(self.interests.spellings.pop(old))
        for rels in self.relationships:
            rels.remap_interests(canonical)
        return len(merged)


def _batches(rows: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def _write_nodes(
    driver: Driver,
    statement: str,
    rows: list[dict[str, Any]],
    database: str | None,
    batch_size: int,
    bar: tqdm,
) -> None:
    for batch in _batches(rows, batch_size):
        driver.execute_query(statement, rows=batch, database_=database)
        reach("write_plan.batch")
        bar.update(len(batch))


def _write_relationships(
    driver: Driver, rels: RelSet, database: str | None, batch_size: int, bar: tqdm
) -> dict[str, int]:
    """Write one RelSet as a diff against the graph: create new pairs, update changed ones.

    A plain MERGE pays an Expand(Into) check and a lock per row; reading the existing pairs once
    and creating only the missing ones is about 1.6x faster on a fresh load, and a re-run of an
    unchanged dataset writes nothing at all. Assumes no concurrent writer of the same type and
    source (an ingest is a batch job); the result is the same as MERGE.
    """
    sourced = rels.source is not None
    if rels.complete is not False and not sourced:
        raise ValueError(f"a complete {rels.rel_type.value} set needs a source to replace")
    existing = {
        rels.key(record["s"], record["t"], record["p"]): record["p"]
        for record in driver.execute_query(
            queries.existing_relationships(rels.rel_type, rels.start, rels.end, sourced),
            source=rels.source,
            database_=database,
            routing_="r",
        ).records
    }
    new: list[tuple[tuple[str, str], dict[str, Any]]] = []
    changed: list[tuple[tuple[str, str], dict[str, Any]]] = []
    for pair, props in rels.rows.items():
        old = existing.get(pair)
        if old is None:
            new.append((pair, props))
        elif old != props:
            changed.append((pair, props))
    bar.update(len(rels.rows) - len(new) - len(changed))
    stale = (
        []
        if rels.complete is False
        else [
            key
            for key in existing
            if key not in rels.rows and (rels.complete is True or key[1] in rels.complete)
        ]
    )
    identity = [rels.identity] if rels.identity else []
    statement = queries.delete_relationships(
        rels.rel_type, rels.start, rels.end, sourced, rels.identity
    )
    for batch in _batches(stale, batch_size):
        driver.execute_query(
            statement,
            s=[key[0] for key in batch],
            t=[key[1] for key in batch],
            source=rels.source,
            database_=database,
            **{f"p_{name}": [key[2] for key in batch] for name in identity},
        )
        reach("write_plan.batch")
    for rows, is_new in ((new, True), (changed, False)):
        keys = sorted({k for _, props in rows for k in props})
        statement = (
            queries.create_relationships(rels.rel_type, rels.start, rels.end, keys)
            if is_new
            else queries.update_relationships(
                rels.rel_type, rels.start, rels.end, keys, sourced, rels.identity
            )
        )
        for batch in _batches(rows, batch_size):
            columns = {f"p_{k}": [props.get(k) for _, props in batch] for k in keys}
            driver.execute_query(
                statement,
                s=[pair[0] for pair, _ in batch],
                t=[pair[1] for pair, _ in batch],
                source=rels.source,
                database_=database,
                **columns,
            )
            reach("write_plan.batch")
            bar.update(len(batch))
    return {
        "created": len(new),
        "updated": len(changed),
        "unchanged": len(rels.rows) - len(new) - len(changed),
        **({"deleted": len(stale)} if rels.complete is not False else {}),
    }


def write_plan(
    driver: Driver,
    plan: GraphPlan,
    *,
    database: str | None = None,
    batch_size: int = 10_000,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a plan: schema first, then nodes (MERGE), then relationships (diffed, batched).

    Interest ids that ``canonicalize-interests`` merged away are written to their canonical
    interest (:meth:`GraphPlan.apply_canonical`). Returns per label / relationship set what was
    written, how many interest ids were canonicalised, the seconds taken, and relationships per
    second (relationship rows handled, over the seconds spent on relationships).
    """
    ensure_schema(driver, database)
    started = time.perf_counter()
    canonicalised = plan.apply_canonical(canonical_ids(driver, database))
    written: dict[str, Any] = {}
    total = (
        sum(len(n.rows) for n in plan.nodes) + len(plan.interests.kinds) + plan.relationship_rows()
    )
    with tqdm(
        total=total,
        desc=f"ingest {plan.dataset}",
        unit="row",
        file=sys.stderr,
        disable=not progress or None,
    ) as bar:
        for nodes in plan.nodes:
            rows = [{"id": k, "props": v} for k, v in nodes.rows.items()]
            _write_nodes(driver, queries.merge_nodes(nodes.label), rows, database, batch_size, bar)
            written[nodes.label.value] = len(rows)
        interests = plan.interests.rows()
        _write_nodes(driver, queries.MERGE_INTERESTS, interests, database, batch_size, bar)
        written[Label.INTEREST.value] = len(interests)
        rel_started = time.perf_counter()
        for rels in plan.relationships:
            name = f"{rels.rel_type.value}:{rels.source}" if rels.source else rels.rel_type.value
            bar.set_postfix_str(name)
            written[name] = _write_relationships(driver, rels, database, batch_size, bar)
        rel_seconds = time.perf_counter() - rel_started
    return {
        "written": written,
        "interests_canonicalised": canonicalised,
        "seconds": round(time.perf_counter() - started, 3),
        "relationship_seconds": round(rel_seconds, 3),
        "relationships_per_second": round(plan.relationship_rows() / rel_seconds, 1)
        if rel_seconds
        else None,
    }
