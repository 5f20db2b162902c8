"""The ``interestgraph`` command: builds settings and a driver, then calls into the layers."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from features.canonical import MIN_SIMILARITY
from features.encoder import DEFAULT_MODEL
from features.profiles import (
    OpenAICompatibleGenerator,
    PrecomputedProfiles,
    ProfileCache,
    TransformersGenerator,
    read_colakg_profiles,
)
from graphdb.cypher import parse_params, run_cypher
from graphdb.errors import GraphDBError
from graphdb.loaders.plan import write_plan
from graphdb.loaders.registry import DATASETS
from graphdb.local import LocalNeo4j
from graphdb.schema import Label
from graphdb.stats import graph_counts
from graphdb.vectors import has_node, similar_nodes
from interestgraph import model_commands, serve_command
from interestgraph.common import JsonFlag, embedding_cache, graph, load_encoder, reported
from interestgraph.output import emit, fail, table
from interestgraph.settings import Settings

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The local Neo4j (the embedded default).", no_args_is_help=True)
app.add_typer(db_app, name="db")


#: Folder names of the public datasets under INTERESTGRAPH_DATASETS / --datasets-dir.
DATASET_FOLDERS = {"movielens-small": "movielens-small", "lastfm-hetrec": "lastfm-hetrec-2k"}


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Expand user interests with Neo4j, LLM embeddings and a heterogeneous GNN."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # PyG 2.8 still applies torch.jit.script at import, which recent torch flags as deprecated:
    # a notice for PyG's maintainers that every training command would otherwise print
    warnings.filterwarnings(
        "ignore", message="`torch.jit.script` is deprecated", category=FutureWarning
    )


# -- db ---------------------------------------------------------------------------------------
@db_app.command("start")
def db_start(
    data_dir: Annotated[
        Path | None, typer.Option(help="Neo4j data folder [default: $INTERESTGRAPH_HOME/neo4j].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Bolt port [default: a free one].")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password for a new data folder [default: random, saved in it]."),
    ] = None,
    heap: Annotated[str, typer.Option(help="JVM max heap.")] = "2g",
    as_json: JsonFlag = False,
) -> None:
    """Start the local Neo4j on 127.0.0.1 and wait until Bolt answers."""
    settings = Settings()
    try:
        state, started = LocalNeo4j(settings.home).start(data_dir, port, password, heap)
    except GraphDBError as e:
        raise fail(str(e), as_json) from None
    emit(
        {"status": "running", "started": started, **state.public()},
        as_json,
        lambda c: c.print(
            f"Neo4j {'started' if started else 'already running'}: {state.uri} "
            f"(data {state.data_dir})",
            highlight=False,
        ),
    )


@db_app.command("stop")
def db_stop(as_json: JsonFlag = False) -> None:
    """Stop the local Neo4j cleanly (SIGTERM → shutdown())."""
    emit(LocalNeo4j(Settings().home).stop(), as_json)


@db_app.command("status")
def db_status(as_json: JsonFlag = False) -> None:
    """Say whether the local Neo4j runs, and where. Exit code 1 if it died."""
    status = LocalNeo4j(Settings().home).status()
    emit(status, as_json)
    if status["status"] == "dead":
        raise typer.Exit(1)


@db_app.command("compact")
def db_compact(
    heap: Annotated[str, typer.Option(help="JVM max heap for the copy.")] = "2g",
    as_json: JsonFlag = False,
) -> None:
    """Rewrite the local Neo4j's store from the live graph only (stopping and restarting it), so
    the bytes of deleted records leave its store files and transaction logs."""
    try:
        report = LocalNeo4j(Settings().home).compact(heap=heap)
    except GraphDBError as e:
        raise fail(str(e), as_json) from None
    emit(report, as_json)


# -- graph ------------------------------------------------------------------------------------
@app.command()
def query(
    cypher: Annotated[str, typer.Argument(help="The Cypher statement.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="NAME=VALUE; VALUE is JSON when it parses, else a string."),
    ] = None,
    write: Annotated[bool, typer.Option(help="Run in a write transaction.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run Cypher against the configured Neo4j (read-only unless --write)."""
    with graph(as_json) as (driver, database):
        keys, rows = run_cypher(
            driver, cypher, parse_params(param or []), write=write, database=database
        )
    emit({"rows": rows}, as_json, lambda c: table(c, keys, [[r[k] for k in keys] for r in rows]))


@app.command()
def ingest(
    dataset: Annotated[str, typer.Argument(help=f"One of: {', '.join(DATASETS)}.")],
    data_dir: Annotated[Path | None, typer.Option(help="Folder with the dataset's files.")] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            help="Prefix user and item ids with NAMESPACE: (to load several datasets side by side)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=100)] = 10_000,
    as_json: JsonFlag = False,
) -> None:
    """Validate a dataset completely, then write it with batched, idempotent MERGEs."""
    payload = _ingest(Settings(), dataset, data_dir, namespace, batch_size, as_json)
    emit(payload, as_json)


def _ingest(
    settings: Settings,
    dataset: str,
    data_dir: Path | None,
    namespace: str | None,
    batch_size: int,
    as_json: bool,
) -> dict[str, Any]:
    if dataset not in DATASETS:
        raise fail(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}", as_json)
    if data_dir is None:
        if settings.datasets_dir is None or dataset not in DATASET_FOLDERS:
            raise fail(
                "pass --data-dir DIR (or set INTERESTGRAPH_DATASETS to the folder holding "
                f"{', '.join(DATASET_FOLDERS.values())})",
                as_json,
            )
        data_dir = settings.datasets_dir / DATASET_FOLDERS[dataset]
    try:
        plan = DATASETS[dataset](data_dir, namespace)
    except GraphDBError as e:
        raise fail(str(e), as_json) from None
    with graph(as_json) as (driver, database):
        report = write_plan(driver, plan, database=database, batch_size=batch_size)
        counts = graph_counts(driver, database)
    return {
        "dataset": dataset,
        "data_dir": str(data_dir),
        **counts,
        **report,
        "skipped": plan.skipped,
    }


@app.command()
def stats(as_json: JsonFlag = False) -> None:
    """Node and relationship counts of the configured Neo4j."""
    with graph(as_json) as (driver, database):
        counts = graph_counts(driver, database)
    emit(counts, as_json, lambda c: _render_counts(c, counts))


def _render_counts(console: Console, counts: dict[str, Any]) -> None:
    table(console, ["label", "nodes"], sorted(counts["nodes"].items()), title="Nodes")
    table(
        console,
        ["type", "relationships"],
        sorted(counts["relationships"].items()),
        title="Relationships",
    )
    table(
        console,
        ["type:source", "relationships"],
        sorted(counts["relationships_by_source"].items()),
        title="By source",
    )


@app.command()
def embed(
    model: Annotated[
        str, typer.Option(help="Local folder or hub name of a sentence encoder.")
    ] = DEFAULT_MODEL,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    as_json: JsonFlag = False,
) -> None:
    """Give every User, Item and Interest a text embedding, written back with vector indexes."""
    from interestgraph.embedding_job import embed_graph

    encoder = load_encoder(model, device, batch_size, as_json)
    with graph(as_json) as (driver, database), embedding_cache(Settings()) as cache:
        report = embed_graph(driver, encoder, cache, database)
    emit(report, as_json)


@app.command()
def similar(
    kind: Annotated[str, typer.Argument(help="user, item or interest.")],
    node_id: Annotated[str, typer.Argument(metavar="ID")],
    k: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    to: Annotated[str | None, typer.Option(help="Look among another kind (e.g. interest).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Nearest nodes by embedding, answered by Neo4j's vector index."""
    label, target = _label(kind, as_json), _label(to or kind, as_json)
    with graph(as_json) as (driver, database):
        rows = similar_nodes(driver, label, node_id, k, target, database)
        if not rows and not has_node(driver, label, node_id, database):
            raise fail(f"no {label.value} with id {node_id!r}", as_json)
    if not rows:
        raise fail(
            f"{label.value} {node_id!r} has no embedding: run `interestgraph embed`", as_json
        )
    emit(
        {"kind": kind, "id": node_id, "target": target.value, "similar": rows},
        as_json,
        lambda c: table(
            c, ["id", "name", "score"], [[r["id"], r["name"], round(r["score"], 4)] for r in rows]
        ),
    )


@app.command("tag-interests")
def tag_interests_command(
    kind: Annotated[
        str, typer.Option(help="Interest kind to propose (genre, tag, topic).")
    ] = "genre",
    k: Annotated[int, typer.Option(min=1, help="Proposals considered per item.")] = 3,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.5)] = 0.2,
    seed: int = 0,
    write: Annotated[bool, typer.Option(help="Write HAS_INTEREST {source:'llm'} edges.")] = True,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    as_json: JsonFlag = False,
) -> None:
    """LLM interest recognition from item text, evaluated on held-out items, written as 'llm'."""
    from interestgraph.tagging_job import tag_interests

    encoder = load_encoder(model, device, 64, as_json)
    with graph(as_json) as (driver, database), embedding_cache(Settings()) as cache:
        try:
            report = tag_interests(driver, encoder, cache, kind, k, holdout, seed, write, database)
        except ValueError as e:
            raise fail(str(e), as_json) from None
    emit(report, as_json)


@app.command("canonicalize-interests")
def canonicalize_interests_command(
    min_similarity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Name-embedding cosine an abbreviation needs.")
    ] = MIN_SIMILARITY,
    write: Annotated[bool, typer.Option(help="Merge (off: report the groups only).")] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Merges per transaction.")] = 200,
    model: str = DEFAULT_MODEL,
    device: str = "auto",
    as_json: JsonFlag = False,
) -> None:
    """Merge near-duplicate interests (sci-fi, scifi, Sci Fi, science fiction) into one, keeping
    every spelling as an alias and every item/user edge."""
    from interestgraph.interest_jobs import canonicalize_interests

    encoder = load_encoder(model, device, 64, as_json)
    with graph(as_json) as (driver, database), embedding_cache(Settings()) as cache:
        report = canonicalize_interests(
            driver, encoder, cache, min_similarity, write, database, batch_size=batch_size
        )
    emit(report, as_json)


@app.command("relate-interests")
def relate_interests_command(
    top_n: Annotated[int, typer.Option(min=1, help="Related interests kept per interest.")] = 10,
    min_count: Annotated[
        int, typer.Option(min=1, help="Shared items/users for co-occurrence.")
    ] = 3,
    min_similarity: Annotated[float, typer.Option(help="Embedding cosine floor.")] = 0.5,
    as_json: JsonFlag = False,
) -> None:
    """Build the interest graph: RELATED_TO {weight, source} from co-occurrence (Jaccard over
    items and users) and embedding similarity, top-N per interest."""
    from interestgraph.interest_jobs import relate_interests

    with graph(as_json) as (driver, database):
        report = relate_interests(driver, top_n, min_count, min_similarity, database)
    emit(report, as_json)


@app.command("forget-user")
def forget_user_command(
    user_id: Annotated[str, typer.Argument(help="The user's id.")],
    purge_artefacts: Annotated[
        bool,
        typer.Option(
            "--purge-artefacts",
            help="Also delete every snapshot and checkpoint under the home that holds the user.",
        ),
    ] = False,
    compact_store: Annotated[
        bool,
        typer.Option(
            "--compact-store",
            help="Then rewrite the local Neo4j's store from the live graph (`db compact`), so "
            "the deleted records' bytes leave its files and logs; stops and restarts it.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Erase a user: their node and every edge (interactions, tags, interests, friendships,
    predictions), the tag counts and co-occurrence that counted them, their cached embedding and
    generated profile; list (or purge) the artefacts that still hold them; append an erasure
    record with the id's hash. Idempotent; re-run it to finish an interrupted erasure."""
    from interestgraph.privacy_job import forget_user

    settings = Settings()
    if compact_store and settings.neo4j_uri:
        raise fail(
            "--compact-store rewrites the local Neo4j's store, but NEO4J_URI points at another "
            "server: compact that one offline (neo4j-admin database copy in Enterprise Edition, "
            "or a dump of the live graph reloaded into a fresh database)",
            as_json,
        )
    compact = LocalNeo4j(settings.home).compact if compact_store else None
    with graph(as_json) as (driver, database):
        report = forget_user(driver, database, settings.home, user_id, purge_artefacts, compact)
    emit(report, as_json)


@app.command("generate-profiles")
def generate_profiles_command(
    kind: Annotated[str, typer.Option(help="user or item.")] = "user",
    generator: Annotated[
        str,
        typer.Option(
            help="transformers:LOCAL_MODEL_DIR, or openai:URL (an OpenAI-compatible API base, "
            "e.g. http://localhost:8000/v1)."
        ),
    ] = "",
    model: Annotated[str, typer.Option(help="Model name for openai: endpoints.")] = "",
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key.")
    ] = "OPENAI_API_KEY",
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    overwrite: Annotated[bool, typer.Option(help="Regenerate nodes that have a text.")] = False,
    device: str = "cpu",
    as_json: JsonFlag = False,
) -> None:
    """LLM-written profiles into User.text / Item.text (then run `embed`)."""
    from interestgraph.profile_job import write_profiles

    label = _label(kind, as_json)
    if generator.startswith("transformers:"):
        try:
            source = TransformersGenerator(generator.split(":", 1)[1], device=device)
        except (OSError, ValueError) as e:
            raise fail(f"cannot load generator {generator!r}: {e}", as_json) from None
    elif generator.startswith("openai:"):
        if not model:
            raise fail("--model is required with an openai: generator", as_json)
        source = OpenAICompatibleGenerator(
            generator.split(":", 1)[1], model, os.environ.get(api_key_env)
        )
    else:
        raise fail("--generator must be transformers:DIR or openai:URL", as_json)
    with graph(as_json) as (driver, database), _profile_cache(Settings()) as cache:
        try:
            report = write_profiles(driver, label, source, cache, overwrite, batch_size, database)
        except RuntimeError as e:
            raise fail(str(e), as_json) from None
    emit(report, as_json)


@app.command("load-profiles")
def load_profiles_command(
    data_dir: Annotated[Path, typer.Argument(help="A CoLaKG folder (llm_response_*.json, maps).")],
    id_prefix: Annotated[str, typer.Option(help="Prefix of graph ids (ingest --namespace).")] = "",
    overwrite: bool = True,
    as_json: JsonFlag = False,
) -> None:
    """Precomputed LLM profiles (CoLaKG JSON) into User.text / Item.text, through the same
    path as generated ones."""
    from interestgraph.profile_job import write_profiles

    reports = []
    with graph(as_json) as (driver, database), _profile_cache(Settings()) as cache:
        for label, stem in ((Label.USER, "user"), (Label.ITEM, "item")):
            path = data_dir / f"llm_response_{stem}.json"
            if not path.exists():
                continue
            try:
                texts = read_colakg_profiles(path, data_dir / f"{stem}_map.txt", id_prefix)
            except (OSError, ValueError) as e:
                raise fail(str(e), as_json) from None
            source = PrecomputedProfiles(texts, f"{data_dir.name}/{path.name}")
            reports.append(write_profiles(driver, label, source, cache, overwrite, 1000, database))
    if not reports:
        raise fail(f"{data_dir}: no llm_response_user.json or llm_response_item.json", as_json)
    emit({"loaded": reports}, as_json)


def _profile_cache(settings: Settings) -> ProfileCache:
    return ProfileCache(settings.home / "profiles.sqlite")


def _label(kind: str, as_json: bool) -> Label:
    labels = {"user": Label.USER, "item": Label.ITEM, "interest": Label.INTEREST}
    if kind.lower() not in labels:
        raise fail(f"kind must be one of {', '.join(labels)}, got {kind!r}", as_json)
    return labels[kind.lower()]


def _render_showcase(console: Console, shown: dict[str, Any]) -> None:
    for entry in shown["users"]:
        known = escape(", ".join(entry["known"]))
        expanded = escape(", ".join(e["name"] for e in entry["expanded"]))
        console.print(
            f"\n[bold]User {escape(entry['user'])}[/bold] showed {known}; expanded into {expanded}",
            highlight=False,
        )
        for item in entry["items"]:
            why = escape(item["why"] or "(no path)")
            console.print(f"  → {escape(item['title'])}: {why}", highlight=False)
    example = f"#user={shown['users'][0]['user']}" if shown["users"] else ""
    console.print(
        "\nSee every user, their expanded interests and the paths behind each recommendation in "
        "the explorer:\n  interestgraph serve --no-auth   (then open "
        f"http://127.0.0.1:8000/{escape(example)})",
        highlight=False,
    )


@app.command()
def demo(
    datasets_dir: Annotated[
        Path | None,
        typer.Option(help="Folder holding movielens-small/ [default: $INTERESTGRAPH_DATASETS]."),
    ] = None,
    embed_nodes: Annotated[
        bool, typer.Option("--embed/--no-embed", help="Also embed every node.")
    ] = True,
    train: Annotated[
        bool,
        typer.Option(
            "--train/--no-train", help="Also export, train and predict (needs the embeddings)."
        ),
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """The main job end to end on the embedded default: start Neo4j, ingest movielens-small,
    embed every node, export a snapshot, train the hetero GNN (chosen on validation against its
    LightGCN-equivalent), refit it on every edge, write top-20 predictions."""
    from interestgraph.embedding_job import embed_graph

    settings = Settings()
    folder = datasets_dir or settings.datasets_dir
    if folder is None:
        raise fail("pass --datasets-dir (the folder holding movielens-small/)", as_json)
    try:
        state, _ = LocalNeo4j(settings.home).start()
    except GraphDBError as e:
        raise fail(str(e), as_json) from None
    report = _ingest(settings, "movielens-small", folder / "movielens-small", None, 10_000, as_json)
    payload: dict[str, Any] = {"neo4j": state.uri, "ingest": report}
    if embed_nodes:
        encoder = load_encoder(DEFAULT_MODEL, "auto", 64, as_json)
        with graph(as_json) as (driver, database), embedding_cache(settings) as cache:
            payload["embed"] = embed_graph(driver, encoder, cache, database)
        if train:
            from serving.lookups import Lookups
            from serving.showcase import showcase
            from training.jobs import model_demo

            with graph(as_json) as (driver, database), reported(as_json):
                payload.update(
                    model_demo(driver, database, settings.home, "movielens-small", DEFAULT_MODEL)
                )
                payload["showcase"] = showcase(Lookups(driver, database, timeout=30.0))

    def render(console: Console) -> None:
        console.print(
            f"Neo4j at {state.uri}; movielens-small ingested in {report['seconds']} s "
            f"({report['relationships_per_second']} relationships/s)",
            highlight=False,
        )
        if "embed" in payload:
            done = payload["embed"]
            console.print(
                f"Embedded {done['encoded']} new texts with {done['model']} on "
                f"{done['device']} in {done['seconds']} s",
                highlight=False,
            )
        _render_counts(console, report)
        if "train" in payload:
            done, run = payload["train"], payload["predict"]
            ours = done["metrics"]["user_item"]["recall@20"]
            base = {n: m["user_item"]["recall@20"] for n, m in done["baselines"].items()}
            chosen = {
                **done["training"]["ours"]["chosen_variant"],
                **{t: "+".join(m) for t, m in done["training"]["ours"].get("ensemble", {}).items()},
            }
            validation = {
                variant: values["user_item"]
                for variant, values in done["training"]["ours"]["validation_recall@20"].items()
            }
            console.print(
                f"Trained {done['model']} on {done['device']}: validation Recall@20 (user→item) "
                f"by variant {validation}, chosen per target {chosen}; test Recall@20 {ours} "
                f"(baselines {base}); refitted on every edge into {done['checkpoint']}",
                highlight=False,
            )
            console.print(
                f"Prediction run {run['run']} is current: {run['written']} new links "
                f"({run['relationships_per_second']} relationships/s)",
                highlight=False,
            )
            _render_showcase(console, payload["showcase"])

    emit(payload, as_json, render)


app.command()(model_commands.export)
app.command()(model_commands.train)
app.command("prepare-split")(model_commands.prepare_split)
app.command()(model_commands.evaluate)
app.command()(model_commands.fairness)
app.command()(model_commands.tune)
app.command()(model_commands.predict)
app.command()(serve_command.recommend)
app.command()(serve_command.explain)
app.command()(serve_command.serve)


if __name__ == "__main__":
    app()
