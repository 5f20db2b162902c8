"""Serving latency and throughput: ``interestgraph serve`` against the real Neo4j, driven by an
open-loop load generator in its own process, with the bare Bolt lookup as the floor.

    python benchmarks/bench_serving.py [--rates 50,100,200] [--seconds 30] [--workers 1]
                                       [--kept-answers 4096]

Needs a graph with a current prediction run (``make demo``, or INTERESTGRAPH_HOME / NEO4J_URI
pointing at one). Steps, all in one run so the ratios compare like with like:

1. fidelity: every user's top 10 items and interests with ``explain=true``; the share of
   served recommendations with at least one explanation path, per target (this pass also
   fills the answers the service keeps while the graph does not change, so the steps below
   measure a warm service; ``--kept-answers 0`` measures one that re-reads every answer);
2. for each rate and for ``explain=false`` / ``explain=true``: requests sent at fixed times
   (open loop: a slow answer does not slow the sender, and latency counts from the planned send
   time, so queueing shows up instead of hiding) for ``--seconds``; p50, p99, achieved
   throughput, errors;
3. the floor: the same stored-prediction lookup as one Cypher query over Bolt (async driver,
   same rates, same open loop), and the API's p50/p99 over it.

Prints one JSON object; the README's table comes from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SERVE = [sys.executable, "-m", "interestgraph.cli", "serve"]
FLOOR_QUERY = (
    "MATCH (r:PredictionRun {status: 'current'}) "
    "MATCH (:User {id: $user})-[p:PREDICTED_ITEM]->(n:Item) WHERE p.run = r.id "
    "RETURN n.id AS id, n.title AS name, p.score AS score, p.rank AS rank "
    "ORDER BY p.rank LIMIT $k"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _summary(latencies: list[float], errors: int, seconds: float, sent: int) -> dict[str, Any]:
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "sent": sent,
        "ok": len(latencies),
        "errors": errors,
        "throughput_rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


async def _open_loop(send, rate: float, seconds: float, users: list[str]) -> dict[str, Any]:
    """Call ``send(user)`` at ``rate`` per second for ``seconds``; latency from planned time."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    latencies: list[float] = []
    errors = 0
    rng = random.Random(0)
    total = int(rate * seconds)

    async def one(planned: float, user: str) -> None:
        nonlocal errors
        delay = planned - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            ok = await send(user)
        except Exception:
            ok = False
        if ok:
            latencies.append(loop.time() - planned)
        else:
            errors += 1

    await asyncio.gather(*(one(start + i / rate, rng.choice(users)) for i in range(total)))
    return _summary(latencies, errors, loop.time() - start, total)


async def _drive_api(
    base: str, key: str, explain: bool, rate: float, seconds: float, users: list[str]
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    # an answer later than 10 s counts as an error, so a saturated step still ends
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:
        params = {"k": 10, "explain": "true" if explain else "false"}
        headers = {"X-API-Key": key}

        async def send(user: str) -> bool:
            response = await client.get(
                f"/v1/users/{user}/recommendations", params=params, headers=headers
            )
            return response.status_code == 200

        return await _open_loop(send, rate, seconds, users)


async def _drive_bolt(
    uri: str, auth: tuple[str, str], rate: float, seconds: float, users: list[str]
) -> dict[str, Any]:
    from neo4j import AsyncGraphDatabase

    async with AsyncGraphDatabase.driver(uri, auth=auth, max_connection_pool_size=256) as driver:

        async def send(user: str) -> bool:
            await driver.execute_query(FLOOR_QUERY, user=user, k=10, routing_="r")
            return True

        return await _open_loop(send, rate, seconds, users)


def _generator(job: dict[str, Any], out: Any) -> None:
    """The load generator's process: runs one job, sends back its summary."""
    if job["kind"] == "api":
        coro = _drive_api(
            job["base"], job["key"], job["explain"], job["rate"], job["seconds"], job["users"]
        )
    else:
        auth = tuple(job["auth"])
        coro = _drive_bolt(job["uri"], auth, job["rate"], job["seconds"], job["users"])
    out.put(asyncio.run(coro))


def run_in_process(job: dict[str, Any]) -> dict[str, Any]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_generator, args=(job, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def fidelity(base: str, key: str, users: list[str]) -> dict[str, Any]:
    """Share of served recommendations (top 10) with at least one explanation path."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60.0) as client:
        for target in ("item", "interest"):
            served = explained = 0
            started = time.perf_counter()
            for user in users:
                body = client.get(
                    f"/v1/users/{user}/recommendations",
                    params={"target": target, "k": 10, "explain": "true"},
                ).json()
                for rec in body["recommendations"]:
                    served += 1
                    explained += bool(rec["explanations"])
            out[target] = {
                "served": served,
                "with_path": explained,
                "fidelity": round(explained / served, 4) if served else None,
                "mean_ms_per_request": round(
                    (time.perf_counter() - started) * 1000 / max(len(users), 1), 1
                ),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--fidelity-users", type=int, default=0, help="0 = every user")
    parser.add_argument(
        "--kept-answers", type=int, default=4096, help="serve --kept-answers (0: none kept)"
    )
    args = parser.parse_args()

    from graphdb.connection import open_driver
    from interestgraph.common import neo4j_target
    from interestgraph.settings import Settings
    from serving.keys import create_key

    settings = Settings()
    target = neo4j_target(settings)
    driver = open_driver(target)
    users = [
        r["id"]
        for r in driver.execute_query(
            "MATCH (r:PredictionRun {status: 'current'}) MATCH (u:User)-[p:PREDICTED_ITEM]->() "
            "WHERE p.run = r.id RETURN DISTINCT u.id AS id ORDER BY id"
        ).records
    ]
    driver.close()
    if not users:
        sys.exit("no current prediction run: run `make demo` (or `interestgraph predict`) first")
    key = create_key(settings.home / "api_keys.json")["key"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            *SERVE,
            *("--port", str(port), "--workers", str(args.workers)),
            *("--kept-answers", str(args.kept_answers)),
        ],
        env=os.environ.copy(),
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        sample = users if args.fidelity_users <= 0 else users[: args.fidelity_users]
        report: dict[str, Any] = {
            "users": len(users),
            "workers": args.workers,
            "kept_answers": args.kept_answers,
            "cpus": os.cpu_count(),
            "seconds_per_step": args.seconds,
            "fidelity": fidelity(base, key, sample),
            "steps": [],
        }
        for rate in [float(r) for r in args.rates.split(",")]:
            common = {"rate": rate, "seconds": args.seconds, "users": users}
            floor = run_in_process(
                {"kind": "bolt", "uri": target.uri, "auth": [target.user, target.password]} | common
            )
            for explain in (False, True):
                api = run_in_process(
                    {"kind": "api", "base": base, "key": key, "explain": explain} | common
                )
                report["steps"].append(
                    {
                        "rate": rate,
                        "explain": explain,
                        "api": api,
                        "bolt_floor": floor,
                        "p50_over_floor": round(api["p50_ms"] / floor["p50_ms"], 2),
                        "p99_over_floor": round(api["p99_ms"] / floor["p99_ms"], 2),
                    }
                )
                sys.stderr.write(json.dumps(report["steps"][-1]) + "\n")
    finally:
        server.terminate()
        server.wait(timeout=60)
    sys.stdout.write(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
