"""Ad-hoc Cypher for ``interestgraph query``: parameters parsed from the command line, results made
JSON-safe. Values only ever travel as parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from neo4j import Driver
from neo4j.graph import Node, Path, Relationship

from graphdb.errors import GraphDBError

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT64 = (-(2**63), 2**63 - 1)


def _fits_neo4j(value: Any) -> bool:
    """Neo4j integers are 64-bit; JSON's are unbounded (lists and maps checked throughout)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, list):
        return all(_fits_neo4j(v) for v in value)
    if isinstance(value, dict):
        return all(_fits_neo4j(v) for v in value.values())
    return True


def parse_params(pairs: Iterable[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs → parameters; VALUE is JSON when it parses as JSON, else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not _PARAM_NAME.match(name):
            raise GraphDBError(
                f"--param {pair!r}: expected NAME=VALUE with NAME a Cypher identifier"
            )
        try:
            try:
                params[name] = json.loads(raw)
            except ValueError:
                params[name] = raw
            fits = _fits_neo4j(params[name])
        except RecursionError:
            raise GraphDBError(f"--param {name}: JSON nested too deeply") from None
        if not fits:
            raise GraphDBError(
                f"--param {name}: an integer outside Neo4j's 64-bit range; "
                f"pass it as a JSON string ({name}='\"…\"') to send it as text"
            )
    return params


def to_jsonable(value: Any) -> Any:
    """Neo4j values → JSON values: nodes and relationships as dicts, temporals as ISO strings."""
    if isinstance(value, Node):
        return {"labels": sorted(value.labels), "properties": to_jsonable(dict(value))}
    if isinstance(value, Relationship):
        return {"type": value.type, "properties": to_jsonable(dict(value))}
    if isinstance(value, Path):
        return {
            "nodes": [to_jsonable(n) for n in value.nodes],
            "relationships": [to_jsonable(r) for r in value.relationships],
        }
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def run_cypher(
    driver: Driver,
    cypher: str,
    params: dict[str, Any],
    *,
    write: bool,
    database: str | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Run one statement in a read transaction (or a write one), returning keys and rows."""

    def work(tx: Any) -> tuple[list[str], list[dict[str, Any]]]:
        result = tx.run(cypher, params)
        records = list(result)
        return list(result.keys()), [to_jsonable(dict(r)) for r in records]

    with driver.session(database=database) as session:
        if write:
            return session.execute_write(work)
        return session.execute_read(work)
