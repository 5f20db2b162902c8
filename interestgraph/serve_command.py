"""``interestgraph serve``, ``recommend`` and ``explain``: the lookups from the terminal, and
the HTTP API under uvicorn.

uvicorn starts each worker process by importing :func:`app_from_environment`; the command
hands the options to the workers in one environment variable, and each worker builds its own
settings, driver and app from them (no state shared between processes).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from features.encoder import DEFAULT_MODEL
from interestgraph.common import JsonFlag, graph, neo4j_target, reported
from interestgraph.output import emit, fail, table
from interestgraph.settings import Settings
from serving.schemas import MAX_PATHS

#: environment variable carrying the serve options to uvicorn's worker processes
OPTIONS_ENV = "INTERESTGRAPH_SERVE_OPTIONS"
TargetOpt = Annotated[str, typer.Option("--target", help="item or interest.")]


def key_file(settings: Settings) -> Path:
    """Where the hashes of the API keys live."""
    return settings.home / "api_keys.json"


def app_from_environment():  # -> FastAPI, typed loosely so the CLI need not import FastAPI
    """The app of one worker process (uvicorn's factory)."""
    from serving.api import ServingConfig, create_app

    options = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    settings = Settings()

    def erase(driver: Any, database: str | None, user_id: str, purge: bool) -> dict[str, Any]:
        from interestgraph.privacy_job import forget_user

        return forget_user(driver, database, settings.home, user_id, purge)

    return create_app(
        ServingConfig(
            neo4j=neo4j_target(settings),
            key_file=None if options.get("no_auth") else key_file(settings),
            checkpoint=Path(options["checkpoint"]) if options.get("checkpoint") else None,
            text_model=options.get("text_model", DEFAULT_MODEL),
            timeout=float(options.get("timeout", 5.0)),
            kept_answers=int(options.get("kept_answers", 4096)),
            erase=erase,
        )
    )


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint for new-user scoring [default: the current run's]."),
    ] = None,
    text_model: Annotated[str, typer.Option(help="Encoder for new users' texts.")] = DEFAULT_MODEL,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a lookup may wait for Neo4j before 503.")
    ] = 5.0,
    kept_answers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Recommendation answers each worker keeps while the graph does not change "
            "(re-served after one empty read confirms it; 0: none).",
        ),
    ] = 4096,
    create_key: Annotated[
        bool, typer.Option("--create-key", help="Print a new API key once, store its hash, exit.")
    ] = False,
    admin: Annotated[
        bool,
        typer.Option("--admin", help="With --create-key: a key that may also erase users."),
    ] = False,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No API keys (local experiments only).")
    ] = False,
    openapi: Annotated[
        bool, typer.Option("--openapi", help="Print the OpenAPI schema (the contract) and exit.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """The HTTP API (FastAPI under uvicorn): recommendations with explanation paths,
    interest expansion, new users, similar items, adopters; /livez, /readyz, /metrics."""
    if openapi:
        from graphdb.connection import Neo4jTarget
        from serving.api import ServingConfig, create_app

        unconnected = ServingConfig(
            neo4j=Neo4jTarget("bolt://127.0.0.1:7687", "", ""), key_file=None
        )
        sys.stdout.write(json.dumps(create_app(unconnected).openapi(), indent=1) + "\n")
        return
    settings = Settings()
    keys = key_file(settings)
    if create_key:
        from serving.keys import create_key as new_key

        try:
            created = new_key(keys, admin=admin)
        except (OSError, ValueError) as e:
            raise fail(str(e), as_json) from None
        emit(
            {"key": created["key"], "id": created["id"], "admin": admin, "key_file": str(keys)},
            as_json,
            lambda c: c.print(
                f"{created['key']}\n(shown once; its hash is in {keys})", highlight=False
            ),
        )
        return
    from serving.keys import KeyStore

    with reported(as_json):
        neo4j_target(settings)  # fail now, clearly, when there is no Neo4j to point at
        if not no_auth and not KeyStore(keys).has_keys():
            raise fail(
                "no API key yet: run `interestgraph serve --create-key` (or --no-auth for a "
                "local experiment)",
                as_json,
            )
    options = {
        "checkpoint": str(checkpoint) if checkpoint else None,
        "text_model": text_model,
        "timeout": timeout,
        "kept_answers": kept_answers,
        "no_auth": no_auth,
    }
    os.environ[OPTIONS_ENV] = json.dumps(options)
    metrics_dir = None
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics_dir = tempfile.mkdtemp(prefix="interestgraph-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    import uvicorn

    Console(stderr=True).print(
        f"serving on http://{host}:{port} ({workers} worker(s)); OpenAPI at /docs", highlight=False
    )
    try:
        uvicorn.run(
            "interestgraph.serve_command:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    finally:
        if metrics_dir is not None:  # the workers' metric files die with this service
            shutil.rmtree(metrics_dir, ignore_errors=True)


def recommend(
    user: Annotated[str, typer.Argument(help="User id.")],
    target: TargetOpt = "item",
    k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="Add explanation paths.")] = False,
    paths: Annotated[int, typer.Option(min=1, max=MAX_PATHS, help="Paths per recommendation.")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """The current run's top-K items or interests for a user (what GET
    /v1/users/{id}/recommendations answers)."""
    from serving.lookups import Lookups

    if target not in ("item", "interest"):
        raise fail(f"--target is item or interest, got {target!r}", as_json)
    with graph(as_json) as (driver, database), reported(as_json):
        answer = Lookups(driver, database).recommendations(user, target, k, explain, paths)
    payload = answer.model_dump(mode="json")
    emit(payload, as_json, lambda c: _render_recommendations(c, payload))


def explain(
    user: Annotated[str, typer.Argument(help="User id.")],
    candidate: Annotated[str, typer.Argument(metavar="ITEM_OR_INTEREST", help="Its id.")],
    target: Annotated[
        str | None, typer.Option("--target", help="item or interest [default: whichever exists].")
    ] = None,
    paths: Annotated[int, typer.Option(min=1, max=MAX_PATHS)] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Why a user might want an item or an interest: the graph paths that connect them."""
    from serving.lookups import Lookups, NotFound

    targets = [target] if target else ["item", "interest"]
    if any(t not in ("item", "interest") for t in targets):
        raise fail(f"--target is item or interest, got {target!r}", as_json)
    with graph(as_json) as (driver, database), reported(as_json):
        lookups = Lookups(driver, database)
        for index, kind in enumerate(targets):
            try:
                answer = lookups.explain(user, kind, candidate, paths)
                break
            except NotFound as e:
                if e.label == "User" or index == len(targets) - 1:
                    raise
    payload = answer.model_dump(mode="json")
    emit(payload, as_json, lambda c: _render_paths(c, payload["explanations"]))


def _render_recommendations(console: Console, payload: dict[str, Any]) -> None:
    rows = [
        [
            r["rank"],
            r["id"],
            r["name"] or "",
            round(r["score"], 4),
            (r["explanations"] or [{}])[0].get("sentence", "") if r["explanations"] else "",
        ]
        for r in payload["recommendations"]
    ]
    table(
        console,
        ["rank", "id", "name", "score", "why"],
        rows,
        title=f"{payload['target']}s for user {payload['user']} (run {payload['run']['id']})",
    )


def _render_paths(console: Console, explanations: list[dict[str, Any]]) -> None:
    if not explanations:
        console.print("no path of ≤ 3 hops connects them")
    for e in explanations:
        console.print(f"[bold]{e['kind']}[/bold] ({e['score']:.4f}): {e['sentence']}")
