"""Re-query an explanation path in Neo4j: every node and every relationship must exist."""

from __future__ import annotations

from neo4j import Driver

LABELS = {"User", "Item", "Interest"}
TYPES = {"INTERACTED", "HAS_INTEREST", "INTERESTED_IN", "RELATED_TO", "FRIEND"}


def path_exists(driver: Driver, explanation: dict) -> bool:
    """Whether each relationship of the path joins its two neighbouring nodes in the graph,
    in the stored direction, with the stated type and labels."""
    nodes, rels = explanation["nodes"], explanation["relationships"]
    if len(rels) != len(nodes) - 1 or not rels:
        return False
    for left, right, rel in zip(nodes, nodes[1:], rels, strict=False):
        if rel["type"] not in TYPES or {left["label"], right["label"]} - LABELS:
            return False
        if (rel["start"], rel["end"]) == (left["id"], right["id"]):
            start, end = left, right
        elif (rel["start"], rel["end"]) == (right["id"], left["id"]):
            start, end = right, left
        else:
            return False
        found = driver.execute_query(
            f"MATCH (a:{start['label']} {{id: $a}})-[r:{rel['type']}]->(b:{end['label']} "
            "{id: $b}) RETURN count(r) AS n",
            a=start["id"],
            b=end["id"],
        ).records[0]["n"]
        if found == 0:
            return False
    return True
