"""Ingest throughput: our batched diff loader vs a row-at-a-time MERGE loader, same run.

Starts its own throwaway local Neo4j and loads each dataset into an empty graph, timing the
relationship phase as ``ingest --json`` reports it (once on a cold JVM, once warm), then times
the naive loader people write first (one auto-commit ``MERGE (u)-[:INTERACTED]->(i)`` per row)
on a sample of the same rows. Prints one JSON object per dataset with the ratio.
Targets: >= 50,000 relationships/s and >= 5x the row-at-a-time loader.

    python benchmarks/bench_ingest.py --datasets-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from graphdb.admin import clear_graph
from graphdb.connection import Neo4jTarget, open_driver
from graphdb.loaders import lastfm, movielens
from graphdb.loaders.plan import write_plan
from graphdb.local import LocalNeo4j
from graphdb.schema import RelType

ROW_AT_A_TIME = (
    "MERGE (u:User {id: $u}) MERGE (i:Item {id: $i}) "
    "MERGE (u)-[r:INTERACTED]->(i) SET r.weight = $w"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets-dir", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--sample", type=int, default=3000, help="rows for the naive loader")
    args = parser.parse_args()
    datasets = {
        "movielens-small": (movielens.parse, args.datasets_dir / "movielens-small"),
        "lastfm-hetrec": (lastfm.parse, args.datasets_dir / "lastfm-hetrec-2k"),
    }
    with tempfile.TemporaryDirectory() as home:
        launcher = LocalNeo4j(Path(home))
        state, _ = launcher.start()
        driver = open_driver(Neo4jTarget(state.uri, state.user, state.password))
        try:
            for name, (parse, folder) in datasets.items():
                plan = parse(folder, None)
                clear_graph(driver)
                cold = write_plan(driver, plan, progress=False)  # includes JIT warm-up
                rerun = write_plan(driver, plan, progress=False)  # unchanged data: writes nothing
                clear_graph(driver)
                report = write_plan(driver, plan, progress=False)  # warm JVM, empty graph
                interactions = next(
                    r for r in plan.relationships if r.rel_type is RelType.INTERACTED
                )
                sample = list(interactions.rows.items())[: args.sample]
                clear_graph(driver)
                started = time.perf_counter()
                for (user, item), props in sample:
                    driver.execute_query(ROW_AT_A_TIME, u=user, i=item, w=props["weight"])
                naive = len(sample) / (time.perf_counter() - started)
                ours = report["relationships_per_second"]
                result = {
                    "dataset": name,
                    "relationships": plan.relationship_rows(),
                    "cold_jvm_relationships_per_second": cold["relationships_per_second"],
                    "ingest_seconds": report["seconds"],
                    "relationships_per_second": ours,
                    "rerun_seconds": rerun["seconds"],
                    "row_at_a_time_per_second": round(naive, 1),
                    "ratio_vs_row_at_a_time": round(ours / naive, 1),
                    "target_50k_met": ours >= 50_000,
                    "target_5x_met": ours / naive >= 5,
                }
                sys.stdout.write(json.dumps(result) + "\n")
                sys.stdout.flush()
        finally:
            driver.close()
            launcher.stop()


if __name__ == "__main__":
    main()
