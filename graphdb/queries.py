"""Every Cypher statement of the graph layer, in one place.

Values always travel as ``$parameters``, batches as ``UNWIND`` over a list parameter. Labels and
relationship types cannot be parameters, so the builders below accept only the enums of
:mod:`graphdb.schema`, never a caller's string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphdb.schema import Label, RelType


def merge_nodes(label: Label) -> str:
    """Upsert nodes by ``id`` and set their properties."""
    return f"UNWIND $rows AS row MERGE (n:{Label(label).value} {{id: row.id}}) SET n += row.props"


MERGE_INTERESTS = """
UNWIND $rows AS row
MERGE (n:Interest {id: row.id})
ON CREATE SET n.name = row.name, n.kind = row.kind
SET n.aliases = reduce(acc = coalesce(n.aliases, []), a IN row.aliases |
                       CASE WHEN a IN acc THEN acc ELSE acc + a END)
"""


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _property_keys(keys: Sequence[str]) -> list[str]:
    """Property names go into query text, so they must be plain identifiers (set by our loaders)."""
    bad = [k for k in keys if not _IDENTIFIER.match(k)]
    if bad:
        raise ValueError(f"not a property name: {bad}")
    return list(keys)


def _endpoints(start: Label, end: Label) -> str:
    """Index-hinted lookups of both ends by id, from column lists ``$s`` and ``$t``.

    The hints matter: a plan cached while the graph was still empty would otherwise scan labels.
    """
    s, t = Label(start).value, Label(end).value
    return (
        "UNWIND range(0, size($s) - 1) AS i "
        f"MATCH (s:{s} {{id: $s[i]}}) USING INDEX s:{s}(id) "
        f"MATCH (t:{t} {{id: $t[i]}}) USING INDEX t:{t}(id) "
    )


def _set_properties(keys: Sequence[str]) -> str:
    return ", ".join(f"r.{k} = $p_{k}[i]" for k in _property_keys(keys))


def create_relationships(rel_type: RelType, start: Label, end: Label, keys: Sequence[str]) -> str:
    """Create relationships known to be new; properties come as one column list per key."""
    sets = _set_properties(keys)
    return (
        _endpoints(start, end)
        + f"CREATE (s)-[r:{RelType(rel_type).value}]->(t)"
        + (f" SET {sets}" if sets else "")
    )


def update_relationships(
    rel_type: RelType,
    start: Label,
    end: Label,
    keys: Sequence[str],
    sourced: bool,
    identity: str | None = None,
) -> str:
    """MERGE relationships that exist with other property values, and set the new values.
    ``source`` and the ``identity`` property (e.g. a tagging event's ``interest``) are part of
    what the MERGE matches on."""
    sets = _set_properties(keys)
    return (
        _endpoints(start, end)
        + f"MERGE (s)-[r:{RelType(rel_type).value}{_identity(sourced, identity)}]->(t)"
        + (f" SET {sets}" if sets else "")
    )


def _identity(sourced: bool, identity: str | None) -> str:
    """The property map that identifies one relationship between two nodes: its ``$source``,
    and the ``identity`` property from the column list ``$p_<identity>``."""
    matched = (["source: $source"] if sourced else []) + [
        f"{k}: $p_{k}[i]" for k in _property_keys([identity] if identity else [])
    ]
    return " {" + ", ".join(matched) + "}" if matched else ""


def delete_relationships(
    rel_type: RelType, start: Label, end: Label, sourced: bool, identity: str | None = None
) -> str:
    """Delete the relationships (of ``$source``; with ``identity``, the one whose property
    equals ``$p_<identity>[i]``) between the pairs of column lists ``$s`` and ``$t``."""
    pattern = f"[r:{RelType(rel_type).value}{_identity(sourced, identity)}]"
    return _endpoints(start, end) + f"MATCH (s)-{pattern}->(t) DELETE r"


def existing_relationships(rel_type: RelType, start: Label, end: Label, sourced: bool) -> str:
    """Every relationship of one type (and source) with its endpoint ids and properties."""
    where = " WHERE r.source = $source" if sourced else ""
    return (
        f"MATCH (s:{Label(start).value})-[r:{RelType(rel_type).value}]->(t:{Label(end).value})"
        f"{where} RETURN s.id AS s, t.id AS t, properties(r) AS p"
    )


def count_label(label: Label) -> str:
    """Node count for one label (answered from the count store)."""
    return f"MATCH (n:{Label(label).value}) RETURN count(n) AS n"


def count_rel_type(rel_type: RelType) -> str:
    """Relationship count for one type (answered from the count store)."""
    return f"MATCH ()-[r:{RelType(rel_type).value}]->() RETURN count(r) AS n"


COUNT_BY_SOURCE = """
MATCH ()-[r]->() WHERE r.source IS NOT NULL
RETURN type(r) AS type, r.source AS source, count(*) AS n ORDER BY type, source
"""

DELETE_RELATIONSHIPS_BATCH = """
MATCH ()-[r]->() WITH r LIMIT $limit DELETE r RETURN count(*) AS deleted
"""

DELETE_ALL_BATCH = """
MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted
"""
