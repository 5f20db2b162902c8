"""``export``, ``train``, ``evaluate`` and ``tune``: from the graph to a snapshot, a checkpoint
and an honest evaluation against the baselines."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from features.cache import embed_with_cache
from features.encoder import DEFAULT_MODEL, resolve_device
from graphdb.export import export_snapshot
from graphdb.snapshot import Snapshot, SnapshotError, read_snapshot, write_snapshot
from interestgraph.common import JsonFlag, embedding_cache, graph, load_encoder
from interestgraph.output import emit, fail, table
from interestgraph.predict_job import PREDICTION_TARGETS
from interestgraph.predict_job import predict as run_predict
from interestgraph.settings import Settings
from training.checkpoint import CheckpointError, check_snapshot, load_checkpoint, save_checkpoint
from training.data import TextEncoderFn
from training.experiment import (
    BASELINES,
    LEARNED_BASELINES,
    VARIANTS,
    ModelConfig,
    Prepared,
    evaluate_model,
    graph_for,
    load_trained,
    prepare,
    ranking_tasks,
    refit,
    run_experiment,
)
from training.loop import FitConfig
from training.published import PublishedSplitError, load_published
from training.split_files import save_split
from training.splits import MODES
from training.spread import aggregate
from training.tuning import apply_params, read_params, run_study, write_params

SnapshotOpt = Annotated[
    Path | None,
    typer.Option("--snapshot", help="Snapshot folder [default: $INTERESTGRAPH_HOME/snapshot]."),
]
SplitOpt = Annotated[
    str, typer.Option("--split", help=f"One of: {', '.join(m for m in MODES if m != 'published')}.")
]
PublishedOpt = Annotated[
    Path | None,
    typer.Option(
        "--published", help="Folder of a LightGCN-format split (train.txt, test.txt, maps)."
    ),
]
UserProfilesOpt = Annotated[
    bool,
    typer.Option(
        help="Use supplied User.text profiles as user texts (only if they were written from "
        "training data, e.g. CoLaKG's for its split); default: rebuilt from training edges."
    ),
]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]


def export(
    out: Annotated[
        Path | None, typer.Option(help="Snapshot folder [default: $INTERESTGRAPH_HOME/snapshot].")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Dataset name in metrics [default: the folder name].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the graph (nodes, embeddings, edges) to a training snapshot a GPU machine can use."""
    settings = Settings()
    folder = out or settings.home / "snapshot"
    payload = export_to(folder, name or folder.name, as_json)
    emit(
        payload,
        as_json,
        lambda c: c.print(
            f"snapshot {folder}: {sum(payload['edges'].values())} edges at "
            f"{payload['edges_per_second']}/s, hash {payload['content_hash'][:12]}",
            highlight=False,
        ),
    )


def export_to(folder: Path, name: str, as_json: bool) -> dict[str, Any]:
    """Export the configured graph to ``folder``; returns the export report."""
    with graph(as_json) as (driver, database):
        snapshot, report = export_snapshot(driver, database)
    snapshot.manifest["name"] = name
    manifest = write_snapshot(snapshot, folder)
    keys = ("name", "nodes", "edges", "dimensions", "content_hash", "embedding_model")
    return {"out": str(folder), **{k: manifest[k] for k in keys}, **report}


def snapshot_at(folder: Path | None, as_json: bool) -> tuple[Snapshot, Path]:
    path = folder or Settings().home / "snapshot"
    try:
        return read_snapshot(path), path
    except SnapshotError as e:
        raise fail(str(e), as_json) from None


def user_text_encoder(snapshot: Snapshot, model: str, device: str, as_json: bool) -> TextEncoderFn:
    """User texts → embeddings with the snapshot's encoder, through the cache; the model loads
    only when a text is not cached (so a GPU box with a warm cache needs no encoder)."""
    model_id = snapshot.manifest.get("embedding_model")
    dims = int(snapshot.manifest.get("dimensions", 0))
    loaded: dict[str, Any] = {}

    def compute(texts: list[str]) -> np.ndarray:
        if "encoder" not in loaded:
            encoder = load_encoder(model, device, 64, as_json)
            if encoder.model_id != model_id:
                raise fail(
                    f"the snapshot was embedded with {model_id}, --text-model gives "
                    f"{encoder.model_id}; pass the same model",
                    as_json,
                )
            loaded["encoder"] = encoder
        return loaded["encoder"].encode(texts)

    def encode(texts: list[str]) -> np.ndarray:
        with embedding_cache(Settings()) as cache:
            vectors, _ = embed_with_cache(texts, str(model_id), dims, compute, cache)
        return vectors

    return encode


def _prepare(
    snapshot: Snapshot,
    use_profiles: bool,
    split: str,
    published: Path | None,
    id_prefix: str,
    seed: int,
    encode: TextEncoderFn,
    as_json: bool,
) -> Prepared:
    try:
        published_split = load_published(published, snapshot, id_prefix) if published else None
        return prepare(snapshot, split, seed, encode, published_split, use_profiles)
    except (PublishedSplitError, ValueError) as e:
        raise fail(str(e), as_json) from None


def _device(device: str, as_json: bool):
    try:
        return resolve_device(device)
    except RuntimeError as e:
        raise fail(str(e), as_json) from None


def _baselines(names: str, as_json: bool) -> tuple[str, ...]:
    chosen = (
        tuple(n.strip() for n in names.split(",") if n.strip()) if names not in ("", "none") else ()
    )
    unknown = [n for n in chosen if n not in BASELINES]
    if unknown:
        raise fail(
            f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}", as_json
        )
    return chosen


def _with_params(
    config: ModelConfig, params: list[Path] | None, as_json: bool
) -> tuple[ModelConfig, dict[str, ModelConfig]]:
    """Our config and the tuned baselines' configs, from ``tune``'s best-parameter files: each
    file says which model it is for, and its parameters apply on top of ``config``."""
    ours, baselines = config, {}
    for path in params or []:
        try:
            model, values = read_params(path)
            tuned = apply_params(config, values)
        except (OSError, ValueError, TypeError) as e:
            raise fail(f"{path}: cannot apply parameters: {e}", as_json) from None
        if model == "ours":
            ours = tuned
        else:
            baselines[model] = tuned
    return ours, baselines


def train(
    snapshot: SnapshotOpt = None,
    split: SplitOpt = "user-random",
    published: PublishedOpt = None,
    id_prefix: Annotated[
        str, typer.Option(help="Prefix of snapshot ids for --published maps.")
    ] = "",
    model: Annotated[
        str,
        typer.Option(
            help="Layers of the hetero GNN: lgc (LightGCN-style propagation), sage, gatv2, hgt."
        ),
    ] = "lgc",
    dim: int = 64,
    layers: int = 3,
    decoder: Annotated[str, typer.Option(help="dot or mlp.")] = "dot",
    loss: Annotated[str, typer.Option(help="bpr or bce.")] = "bpr",
    epochs: int = 150,
    lr: float = 5e-3,
    reg: float = 1e-4,
    batch_size: int = 4096,
    noise: Annotated[
        float, typer.Option(help="XSimGCL perturbation per layer (lgc only; 0 = off).")
    ] = 0.1,
    cl_weight: Annotated[
        float, typer.Option(help="Weight of the contrastive loss (0 = off).")
    ] = 0.1,
    features: Annotated[
        bool, typer.Option("--features/--no-features", help="LLM text features (off = ablation).")
    ] = True,
    ids: Annotated[
        bool,
        typer.Option("--ids/--no-ids", help="Learned id embeddings for nodes seen in training."),
    ] = True,
    interests: Annotated[
        bool,
        typer.Option(
            "--interests/--no-interests", help="Interest nodes in the graph (off = ablation)."
        ),
    ] = True,
    params: Annotated[
        list[Path] | None,
        typer.Option(
            help="A best_params file from `tune` (repeat it: one for ours, one per tuned baseline)."
        ),
    ] = None,
    baselines: Annotated[
        str, typer.Option(help=f"Comma list of {', '.join(BASELINES)}, or none.")
    ] = ",".join(BASELINES),
    user_profiles: UserProfilesOpt = False,
    seed: int = 0,
    seeds: Annotated[
        str | None,
        typer.Option(
            help="Comma list of seeds (e.g. 0,1,2,3,4): the whole experiment once per seed, "
            "reported as mean ± sd and a 95% interval; overrides --seed."
        ),
    ] = None,
    variants: Annotated[
        str,
        typer.Option(
            help=f"Variants of ours chosen among on validation, per target: {', '.join(VARIANTS)}."
        ),
    ] = ",".join(VARIANTS),
    refit: Annotated[
        bool,
        typer.Option(
            help="After validation picks variants and epochs, retrain once on every edge: the "
            "checkpoint `predict` should use (its metrics are the split's, from before)."
        ),
    ] = False,
    save_split: Annotated[
        Path | None,
        typer.Option(help="Write the exact user→item split (LightGCN text and RecBole files)."),
    ] = None,
    device: DeviceOpt = "auto",
    text_model: Annotated[
        str, typer.Option(help="Encoder for user and item texts (the snapshot's).")
    ] = DEFAULT_MODEL,
    out: Annotated[
        Path | None,
        typer.Option(help="Checkpoint folder [default: $INTERESTGRAPH_HOME/checkpoint]."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train the hetero GNN and the baselines on one split; write a checkpoint and metrics JSON."""
    fit = FitConfig(
        lr=lr, reg=reg, batch_size=batch_size, epochs=epochs, loss=loss, cl_weight=cl_weight
    )
    config, baseline_configs = _with_params(
        ModelConfig(
            conv=model,
            dim=dim,
            layers=layers,
            decoder=decoder,
            use_features=features,
            use_ids=ids,
            use_interests=interests,
            noise=noise,
            fit=fit,
        ),
        params,
        as_json,
    )
    chosen = _baselines(baselines, as_json)
    chosen_variants = _names(variants, VARIANTS, "variant", as_json)
    seed_list = _seeds(seeds, seed, as_json)
    torch_device = _device(device, as_json)
    data, snapshot_path = snapshot_at(snapshot, as_json)
    started = time.perf_counter()
    encode = user_text_encoder(data, text_model, device, as_json)
    first = _prepare(
        data, user_profiles, split, published, id_prefix, seed_list[0], encode, as_json
    )
    if save_split is not None:
        _save_split(first, save_split, as_json)
    payload = train_and_save(
        first,
        config,
        chosen,
        torch_device,
        out or Settings().home / "checkpoint",
        snapshot_path,
        {
            "published": str(published) if published else None,
            "id_prefix": id_prefix,
            "user_profiles": user_profiles,
        },
        as_json,
        baseline_configs,
        chosen_variants,
        refit_with=encode if refit else None,
        more_seeds=[
            (
                lambda s=s: _prepare(
                    data, user_profiles, split, published, id_prefix, s, encode, as_json
                )
            )
            for s in seed_list[1:]
        ],
    )
    payload["seconds"] = round(time.perf_counter() - started, 2)
    emit(payload, as_json, lambda c: _render_metrics(c, payload))


def _names(value: str, allowed, kind: str, as_json: bool) -> tuple[str, ...]:
    chosen = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in chosen if n not in allowed]
    if unknown or not chosen:
        raise fail(f"--{kind}s takes a comma list of {', '.join(allowed)}, got {value!r}", as_json)
    return chosen


def _seeds(value: str | None, seed: int, as_json: bool) -> list[int]:
    if value is None:
        return [seed]
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise fail(f"--seeds takes a comma list of integers, got {value!r}", as_json) from None
    if not out or len(set(out)) != len(out):
        raise fail(f"--seeds needs distinct seeds, got {value!r}", as_json)
    return out


def _save_split(prepared: Prepared, folder: Path, as_json: bool) -> None:
    if prepared.split is None:
        raise fail("--save-split needs a split", as_json)
    try:
        save_split(
            folder,
            prepared.dataset,
            prepared.snapshot.nodes["user"]["id"],
            prepared.snapshot.nodes["item"]["id"],
            prepared.targets["user_item"],
            prepared.split,
        )
    except ValueError as e:
        raise fail(str(e), as_json) from None


def train_and_save(
    prepared: Prepared,
    config: ModelConfig,
    baselines: tuple[str, ...],
    device: torch.device,
    folder: Path,
    snapshot_path: Path,
    extra: dict[str, Any],
    as_json: bool,
    baseline_configs: dict[str, ModelConfig] | None = None,
    variants: tuple[str, ...] = tuple(VARIANTS),
    refit_with: TextEncoderFn | None = None,
    more_seeds: list[Callable[[], Prepared]] | None = None,
) -> dict[str, Any]:
    """Run the experiment (once per seed: ``prepared`` is the first seed's, ``more_seeds``
    prepare the others one at a time) and write the first seed's checkpoint, or with
    ``refit_with`` the model retrained on every edge; returns the metrics JSON."""
    seed = prepared.split.seed if prepared.split else 0
    try:
        payload, ours = run_experiment(
            prepared,
            config,
            device,
            seed,
            baselines,
            baseline_configs=baseline_configs,
            variants=variants,
        )
        runs = [payload]
        for make in more_seeds or []:
            other = make()
            runs.append(
                run_experiment(
                    other,
                    config,
                    device,
                    other.split.seed if other.split else 0,
                    baselines,
                    baseline_configs=baseline_configs,
                    variants=variants,
                )[0]
            )
    except ValueError as e:
        raise fail(str(e), as_json) from None
    assert ours is not None
    if len(runs) > 1:
        payload = aggregate(runs)
    model, graph, user_features = ours.model, ours.graph, prepared.user_features
    if refit_with is not None:
        everything = prepare(prepared.snapshot, "all", seed, refit_with)
        model, graph = refit(everything, ours.configs, ours.best_epoch, device, seed)
        user_features = everything.user_features
    payload["device"] = str(device)
    payload["checkpoint"] = str(folder)
    payload["refit"] = refit_with is not None
    info = {
        "split": prepared.split.mode if prepared.split else "all",
        "seed": seed,
        "fit": ours.summary(),
        "refit": refit_with is not None,
        "dataset": prepared.dataset,
        "baseline_configs": {n: c.to_dict() for n, c in (baseline_configs or {}).items()},
        **extra,
    }
    save_checkpoint(
        folder,
        model,
        config,
        ours.configs,
        graph.id_mask,
        prepared.snapshot,
        snapshot_path,
        user_features,
        info,
        payload,
    )
    return payload


def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint folder from `train`.")],
    snapshot: SnapshotOpt = None,
    baselines: Annotated[
        str, typer.Option(help=f"Comma list of {', '.join(BASELINES)}, or none.")
    ] = ",".join(BASELINES),
    device: DeviceOpt = "auto",
    text_model: Annotated[
        str, typer.Option(help="Encoder for user and item texts (the snapshot's).")
    ] = DEFAULT_MODEL,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a checkpoint on its split's test edges (baselines retrained on the same split)."""
    try:
        ckpt = load_checkpoint(checkpoint)
    except CheckpointError as e:
        raise fail(str(e), as_json) from None
    data, snapshot_path = snapshot_at(snapshot or ckpt.snapshot_path, as_json)
    try:
        check_snapshot(ckpt, data, snapshot_path)
    except CheckpointError as e:
        raise fail(str(e), as_json) from None
    if ckpt.info.get("refit"):
        raise fail(
            f"checkpoint {checkpoint} was refitted on every edge, test edges included: its "
            "split figures are in its metrics.json; evaluate a checkpoint trained without --refit",
            as_json,
        )
    chosen = _baselines(baselines, as_json)
    torch_device = _device(device, as_json)
    published = Path(ckpt.info["published"]) if ckpt.info.get("published") else None
    prepared = _prepare(
        data,
        bool(ckpt.info.get("user_profiles", False)),
        ckpt.info["split"],
        published,
        ckpt.info.get("id_prefix", ""),
        ckpt.info["seed"],
        user_text_encoder(data, text_model, device, as_json),
        as_json,
    )
    seed = ckpt.info["seed"]
    graph_ = graph_for(prepared, ckpt.config).to(torch_device)
    model = load_trained(ckpt.target_configs, graph_, ckpt.state)
    payload: dict[str, Any] = {
        "dataset": prepared.dataset,
        "split": prepared.split.mode,
        "model": f"hetero-{ckpt.config.conv}",
        "seed": seed,
        "metrics": evaluate_model(
            model, graph_, ranking_tasks(prepared, graph_, "test"), torch_device, seed
        ),
        "baselines": {},
        "checkpoint": str(checkpoint),
    }
    if chosen:
        tuned = {
            name: ModelConfig.from_dict(values)
            for name, values in ckpt.info.get("baseline_configs", {}).items()
        }
        baseline_payload, _ = run_experiment(
            prepared,
            ckpt.config,
            torch_device,
            seed,
            chosen,
            train_ours=False,
            baseline_configs=tuned,
        )
        payload["baselines"] = baseline_payload["baselines"]
    emit(payload, as_json, lambda c: _render_metrics(c, payload))


def tune(
    trials: Annotated[
        int, typer.Option(min=1, help="Total finished trials wanted in the study.")
    ] = 20,
    snapshot: SnapshotOpt = None,
    split: SplitOpt = "user-random",
    published: PublishedOpt = None,
    id_prefix: str = "",
    model: str = "lgc",
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Tune this learned baseline (lightgcn or mf_bpr) instead of ours, to give it "
            "the same budget."
        ),
    ] = None,
    epochs: int = 100,
    study: Annotated[
        str | None, typer.Option(help="Study name [default: dataset-split-model].")
    ] = None,
    storage: Annotated[
        Path | None, typer.Option(help="SQLite file [default: $INTERESTGRAPH_HOME/optuna.sqlite].")
    ] = None,
    user_profiles: UserProfilesOpt = False,
    seed: int = 0,
    device: DeviceOpt = "auto",
    text_model: str = DEFAULT_MODEL,
    as_json: JsonFlag = False,
) -> None:
    """Tune the hetero GNN (or a baseline) with Optuna on validation Recall@20 (resumable;
    best_params.json)."""
    if baseline is not None and baseline not in LEARNED_BASELINES:
        choices = ", ".join(LEARNED_BASELINES)
        raise fail(f"--baseline must be one of {choices}, got {baseline!r}", as_json)
    tuned_model = baseline or "ours"
    settings = Settings()
    data, _ = snapshot_at(snapshot, as_json)
    prepared = _prepare(
        data,
        user_profiles,
        split,
        published,
        id_prefix,
        seed,
        user_text_encoder(data, text_model, device, as_json),
        as_json,
    )
    base = replace(ModelConfig(conv=model), fit=FitConfig(epochs=epochs))
    name = study or f"{prepared.dataset}-{prepared.split.mode}-{baseline or model}"
    path = storage or settings.home / "optuna.sqlite"
    result = run_study(
        prepared, base, _device(device, as_json), trials, path, name, seed, model=tuned_model
    )
    params_path = path.parent / f"best_params-{name}.json"
    write_params(params_path, tuned_model, result["best_params"])
    result["params_file"] = str(params_path)
    emit(result, as_json)


def _render_metrics(console, payload: dict[str, Any]) -> None:
    keys = ["recall@20", "ndcg@20", "hit@20", "mrr", "auc", "coverage", "novelty", "diversity"]
    for target in ("user_item", "user_interest"):
        rows = []
        for name, metrics in [("ours", payload["metrics"]), *payload["baselines"].items()]:
            if target in metrics:
                rows.append([name, *[metrics[target].get(k) for k in keys]])
        if rows:
            table(
                console,
                ["model", *keys],
                rows,
                title=f"{payload['dataset']} {payload['split']} {target} (test)",
            )


def predict(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint folder from `train`.")],
    k: Annotated[int, typer.Option(min=1, max=1000, help="Predictions per user and target.")] = 20,
    targets: Annotated[str, typer.Option(help="Comma list of item, interest.")] = "item,interest",
    snapshot: SnapshotOpt = None,
    device: DeviceOpt = "auto",
    users_per_transaction: Annotated[int, typer.Option(min=1)] = 500,
    keep_previous: Annotated[
        bool, typer.Option(help="Keep the replaced run (status superseded) to compare with.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the top-K new items and interests of every user as one atomically switched run."""
    chosen = [t.strip() for t in targets.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in PREDICTION_TARGETS]
    if unknown or not chosen:
        raise fail(f"--targets takes item and/or interest, got {targets!r}", as_json)
    try:
        ckpt = load_checkpoint(checkpoint)
    except CheckpointError as e:
        raise fail(str(e), as_json) from None
    data, snapshot_path = snapshot_at(snapshot or ckpt.snapshot_path, as_json)
    try:
        check_snapshot(ckpt, data, snapshot_path)
    except CheckpointError as e:
        raise fail(str(e), as_json) from None
    if "interest" in chosen and not ckpt.uses_interests:
        raise fail(
            "this checkpoint was trained without interest nodes: use --targets item", as_json
        )
    torch_device = _device(device, as_json)
    with graph(as_json) as (driver, database):
        try:
            report = run_predict(
                driver,
                ckpt,
                data,
                k,
                chosen,
                torch_device,
                database,
                users_per_transaction,
                keep_previous,
            )
        except ValueError as e:
            raise fail(str(e), as_json) from None
    emit(report, as_json)


#: the demo's variant choice: ours against its LightGCN-equivalent, then a refit on every edge
DEMO_VARIANTS = ("full", "lightgcn")


def model_demo(settings: Settings, dataset: str, as_json: bool) -> dict[str, Any]:
    """The model half of ``demo``: export, train (choosing between ours and its
    LightGCN-equivalent on validation, popularity and LightGCN as baselines), refit on every
    edge, predict with the refitted model."""
    folder = settings.home / "snapshot"
    exported = export_to(folder, dataset, as_json)
    data, path = snapshot_at(folder, as_json)
    device = _device("auto", as_json)
    encode = user_text_encoder(data, DEFAULT_MODEL, "auto", as_json)
    prepared = _prepare(data, False, "user-random", None, "", 0, encode, as_json)
    checkpoint = settings.home / "checkpoint"
    metrics = train_and_save(
        prepared,
        ModelConfig(),
        ("popularity", "lightgcn"),
        device,
        checkpoint,
        path,
        {},
        as_json,
        variants=DEMO_VARIANTS,
        refit_with=encode,
    )
    with graph(as_json) as (driver, database):
        predicted = run_predict(
            driver, load_checkpoint(checkpoint), data, 20, ["item", "interest"], device, database
        )
    return {"export": exported, "train": metrics, "predict": predicted}
