"""Whatever a user can type, through ``ingest csv`` and ``query``: arbitrary Unicode, control
characters, huge strings and Cypher fragments as ids, titles, interests and ``--param`` values.
Each either round-trips faithfully or fails with one clear ``{"error": …}`` naming the file,
line and column, never a traceback and never a change to a node it was not about."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from neo4j import Driver
from typer.testing import CliRunner

from graphdb.connection import Neo4jTarget
from graphdb.loaders.plan import normalize_interest
from graphdb.loaders.tables import MAX_KEY_BYTES
from interestgraph.cli import app

FRAGMENTS = [
    "') DETACH DELETE n //",
    '"}) MATCH (n) DETACH DELETE n //',
    "x`) DETACH DELETE n WITH 1 AS y MATCH (z:`",
    "$id",
    "{id: 1}",
    "\\u0027; MATCH (n) DELETE n",
    "MATCH (n) RETURN n",
    "\x00",
    "a\r\nb",
    '"',
    "\ufeffid",
    "\u202eevil",
    "ﷺ" * 300,  # NFKC turns each into 18 characters
]

hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(FRAGMENTS),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(2_000, 20_000)),
)


@pytest.fixture(scope="module")
def cli_env(target: Neo4jTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEO4J_URI", target.uri)
        patch.setenv("NEO4J_USER", target.user)
        patch.setenv("NEO4J_PASSWORD", target.password)
        patch.setenv("INTERESTGRAPH_HOME", str(tmp_path_factory.mktemp("hostile-home")))
        yield


BYSTANDER = """
MATCH (u:User {id: 'bystander'})-[r:INTERACTED]->(i:Item {id: 'bystander item'})
RETURN properties(u) AS u, properties(r) AS r, properties(i) AS i
"""


@pytest.fixture(scope="module")
def bystander(session_driver: Driver, cli_env: None) -> dict[str, Any]:
    """A node and edge no hostile input is about; they must never change."""
    session_driver.execute_query("MATCH (n) DETACH DELETE n")
    session_driver.execute_query(
        "CREATE (:User {id: 'bystander', name: 'B'})-[:INTERACTED {weight: 2.0}]->"
        "(:Item {id: 'bystander item', title: 'Kept'})"
    )
    return session_driver.execute_query(BYSTANDER).records[0].data()


def _invoke(args: list[str]) -> tuple[int, dict[str, Any]]:
    """Run the CLI in-process; a Python exception escaping the command fails the test."""
    result = CliRunner().invoke(app, [*args, "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback for {args!r}") from result.exception
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def _write(path: Path, header: list[str], row: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(row)


def _as_written(value: str) -> str | None:
    """What the loader keeps of a value: surrounding whitespace off; None if it is rejected."""
    kept = value.strip()
    return kept if kept and len(kept.encode("utf-8")) <= MAX_KEY_BYTES else None


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(user=hostile, item=hostile, title=hostile, interest=hostile)
def test_ingest_round_trips_or_names_the_problem(
    session_driver: Driver,
    bystander: dict[str, Any],
    user: str,
    item: str,
    title: str,
    interest: str,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    _write(folder / "interactions.csv", ["user_id", "item_id"], [user, item])
    _write(folder / "items.csv", ["item_id", "title"], [item, title])
    _write(folder / "item_interests.csv", ["item_id", "interest"], [item, interest])
    code, out = _invoke(["ingest", "csv", "--data-dir", str(folder)])
    interest_id = normalize_interest(interest)
    valid = (
        None not in (_as_written(user), _as_written(item), _as_written(interest))
        and (not title.strip() or _as_written(title) is not None)
        and 0 < len(interest_id.encode("utf-8")) <= MAX_KEY_BYTES
    )
    if not valid:
        assert code == 1 and out["error"].startswith(str(folder)), out
    else:
        assert code == 0, out
        found = session_driver.execute_query(
            "MATCH (u:User {id: $user})-[:INTERACTED]->(i:Item {id: $item})"
            "-[:HAS_INTEREST]->(t:Interest {id: $interest}) "
            "RETURN i.title AS title, t.aliases AS aliases",
            user=user.strip(),
            item=item.strip(),
            interest=interest_id,
        ).records
        assert len(found) == 1
        if title.strip():  # an empty title sets nothing: an earlier row's title stays
            assert found[0]["title"] == title.strip()
        assert interest.strip() in found[0]["aliases"]
    assert session_driver.execute_query(BYSTANDER).records[0].data() == bystander


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(name=st.one_of(st.just("v"), hostile), value=hostile)
@example(name="v", value="1" * 400)  # JSON's integers are unbounded, Neo4j's are 64-bit
@example(name="v", value="[1, 99999999999999999999]")
@example(name="v", value="[" * 5000)  # the JSON decoder recurses per bracket
def test_query_params_round_trip_or_name_the_problem(
    session_driver: Driver, bystander: dict[str, Any], name: str, value: str
) -> None:
    code, out = _invoke(["query", f"RETURN ${name} AS v", "--param", f"{name}={value}"])
    if code == 0:
        try:
            expected: Any = json.loads(value)
        except ValueError:
            expected = value
        assert len(out["rows"]) == 1 and _same(out["rows"][0]["v"], expected), (value, out)
    else:
        assert code == 1 and out["error"], out
    code, out = _invoke(
        ["query", "MATCH (u:User {id: $id}) RETURN count(u) AS n", "--param", f"id={value}"]
    )
    assert code == 0 or out["error"]
    assert session_driver.execute_query(BYSTANDER).records[0].data() == bystander
