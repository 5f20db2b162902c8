"""The model jobs both front doors share: export, train, evaluate, tune, predict.

Each job takes plain arguments (paths, names, a driver) and returns the JSON-able report the CLI
prints; every problem a user can cause raises :class:`JobError` with a message that names the
file, option or value, before the graph or the checkpoint folder is touched. Nothing here knows
about typer or FastAPI.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch_geometric
from neo4j import Driver

from features.cache import EmbeddingCache, embed_with_cache
from features.encoder import EncoderError, TextEncoder, load_encoder, resolve_device
from gnn.dgl_propagation import import_dgl
from gnn.encoders import BACKENDS
from gnn.graph import Graph
from gnn.models import StaticScorer
from graphdb.export import export_snapshot
from graphdb.snapshot import Snapshot, SnapshotError, read_snapshot, write_snapshot
from training.batch_predict import PREDICTION_TARGETS, STORED_PATHS
from training.batch_predict import predict as write_predictions
from training.checkpoint import (
    Checkpoint,
    CheckpointError,
    check_snapshot,
    load_checkpoint,
    save_checkpoint,
)
from training.choices import BASELINES, LEARNED_BASELINES, MIX_MIN_USERS, VARIANTS
from training.data import TextEncoderFn
from training.distributed import current, joined, primary_first
from training.errors import JobError
from training.experiment import (
    CHOSEN_SETTINGS,
    ModelConfig,
    Prepared,
    choose_mixes,
    evaluate_model,
    graph_for,
    prepare,
    ranking_tasks,
    refit,
    run_experiment,
    train_model,
)
from training.fairness import (
    activity_groups,
    as_labels,
    item_report,
    popularity_groups,
    popularity_penalty,
    user_report,
)
from training.loop import FitConfig
from training.metrics import mean_of, rank_users
from training.published import PublishedSplitError, load_published
from training.shards import ShardError, read_manifest, score_to_shards, shard_source
from training.split_files import save_split
from training.spread import aggregate
from training.tuning import apply_params, read_params, run_study, write_params

#: popularity-penalty weights the fairness report prices by default (0: the model itself)
PENALTIES = (0.0, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class SplitSpec:
    """Which split to train and evaluate on (and how user texts are made)."""

    mode: str = "user-random"
    published: Path | None = None
    id_prefix: str = ""
    user_profiles: bool = False

    def extra(self) -> dict[str, Any]:
        """What a checkpoint records to rebuild this split."""
        return {
            "published": str(self.published) if self.published else None,
            "id_prefix": self.id_prefix,
            "user_profiles": self.user_profiles,
        }


@dataclass(frozen=True)
class TrainSpec:
    """Everything ``train`` decides besides the split: models, seeds, refit, outputs."""

    config: ModelConfig
    baselines: tuple[str, ...] = BASELINES
    baseline_configs: dict[str, ModelConfig] = field(default_factory=dict)
    variants: tuple[str, ...] = tuple(VARIANTS)
    seeds: tuple[int, ...] = (0,)
    refit: bool = False
    save_split: Path | None = None
    #: choose each target's weight against each mix partner on validation (BaselineMix)
    #: where it has at least this many validation users; None: the model alone
    mix_min_users: int | None = MIX_MIN_USERS
    #: let validation choose an ensemble of the best variants per target (VariantEnsemble)
    ensemble: bool = True


def torch_device(device: str) -> torch.device:
    try:
        return resolve_device(device)
    except RuntimeError as e:
        raise JobError(str(e)) from None


def export_to(driver: Driver, database: str | None, folder: Path, name: str) -> dict[str, Any]:
    """Export the graph to a snapshot in ``folder``; returns the export report."""
    snapshot, report = export_snapshot(driver, database)
    snapshot.manifest["name"] = name
    manifest = write_snapshot(snapshot, folder)
    keys = ("name", "nodes", "edges", "dimensions", "content_hash", "embedding_model")
    return {"out": str(folder), **{k: manifest[k] for k in keys}, **report}


def open_snapshot(folder: Path) -> Snapshot:
    try:
        return read_snapshot(folder)
    except SnapshotError as e:
        raise JobError(str(e)) from None


def open_checkpoint(folder: Path, snapshot_folder: Path | None) -> tuple[Checkpoint, Snapshot]:
    """A checkpoint and the snapshot it was trained on (or ``snapshot_folder``), checked to
    belong together."""
    try:
        checkpoint = load_checkpoint(folder)
    except CheckpointError as e:
        raise JobError(str(e)) from None
    path = snapshot_folder or checkpoint.snapshot_path
    snapshot = open_snapshot(path)
    try:
        check_snapshot(checkpoint, snapshot, path)
    except CheckpointError as e:
        raise JobError(str(e)) from None
    return checkpoint, snapshot


def user_text_encoder(
    snapshot: Snapshot, model: str, device: str, cache_path: Path
) -> TextEncoderFn:
    """User texts → embeddings with the snapshot's encoder, through the cache; the model loads
    only when a text is not cached (so a GPU box with a warm cache needs no encoder)."""
    model_id = snapshot.manifest.get("embedding_model")
    dims = int(snapshot.manifest.get("dimensions", 0))
    loaded: dict[str, TextEncoder] = {}

    def compute(texts: list[str]) -> np.ndarray:
        if "encoder" not in loaded:
            try:
                encoder = load_encoder(model, device)
            except EncoderError as e:
                raise JobError(
                    f"{len(texts)} texts are not in the embedding cache {cache_path}, and {e}. "
                    "Where no encoder can run (the DGL environment), fill the cache first where "
                    "one can, with `interestgraph prepare-split` and the same snapshot, split "
                    "and seeds"
                ) from None
            if encoder.model_id != model_id:
                raise JobError(
                    f"the snapshot was embedded with {model_id}, --text-model gives "
                    f"{encoder.model_id}; pass the same model"
                )
            loaded["encoder"] = encoder
        return loaded["encoder"].encode(texts)

    def encode(texts: list[str]) -> np.ndarray:
        with EmbeddingCache(cache_path) as cache:
            vectors, _ = embed_with_cache(texts, str(model_id), dims, compute, cache)
        return vectors

    return encode


def prepare_split(
    snapshot: Snapshot, split: SplitSpec, seed: int, encode: TextEncoderFn
) -> Prepared:
    """The split with its features (rank 0 first in a distributed run: it fills the embedding
    cache the other ranks then read)."""
    try:
        published = (
            load_published(split.published, snapshot, split.id_prefix) if split.published else None
        )
        with primary_first():
            return prepare(snapshot, split.mode, seed, encode, published, split.user_profiles)
    except (PublishedSplitError, ValueError) as e:
        raise JobError(str(e)) from None


def with_params(
    config: ModelConfig, params: Sequence[Path]
) -> tuple[ModelConfig, dict[str, ModelConfig]]:
    """Our config and the tuned baselines' configs, from ``tune``'s best-parameter files: each
    file says which model it is for, and its parameters apply on top of ``config``."""
    ours, baselines = config, {}
    for path in params:
        try:
            model, values = read_params(path)
            tuned = apply_params(config, values)
        except (OSError, ValueError, TypeError) as e:
            raise JobError(f"{path}: cannot apply parameters: {e}") from None
        if model == "ours":
            ours = tuned
        else:
            baselines[model] = tuned
    return ours, baselines


@dataclass(frozen=True)
class TrainJob:
    """A whole ``train`` run as plain, picklable values: what each rank of a distributed run
    receives and runs."""

    snapshot: Path
    split: SplitSpec
    spec: TrainSpec
    device: str
    text_model: str
    cache: Path
    out: Path


def check_backend(config: ModelConfig) -> None:
    """Fail before any work when the DGL backend is asked for where it cannot run."""
    if config.backend == "pyg":
        return
    if config.backend not in BACKENDS:
        raise JobError(f"--backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
    if config.conv != "lgc":
        raise JobError(f"the DGL backend runs --model lgc only, got {config.conv!r}")
    try:
        import_dgl()
    except ImportError as e:
        raise JobError(str(e)) from None


def prepare_splits(
    snapshot_path: Path,
    split: SplitSpec,
    seeds: Sequence[int],
    refit: bool,
    text_model: str,
    device: str,
    cache: Path,
) -> dict[str, Any]:
    """Derive each seed's split and embed its user and item texts into the cache, training
    nothing: what ``train`` then reads in an environment with no text encoder (the DGL one)."""
    snapshot = open_snapshot(snapshot_path)
    encode = user_text_encoder(snapshot, text_model, device, cache)
    prepared = []
    for seed in seeds:
        data = prepare_split(snapshot, split, seed, encode)
        prepared.append({"seed": seed, "training_edges": _training_edges(data)})
    if refit:
        data = prepare(snapshot, "all", 0, encode)
        prepared.append({"seed": None, "split": "all", "training_edges": _training_edges(data)})
    return {
        "snapshot": str(snapshot_path),
        "split": split.mode,
        "cache": str(cache),
        "prepared": prepared,
    }


def _training_edges(prepared: Prepared) -> dict[str, int]:
    return {target: len(pairs[0]) for target, pairs in prepared.pairs.items()}


def run_train(job: TrainJob) -> dict[str, Any] | None:
    """Open the snapshot and the user-text encoder and :func:`train`, as one rank of however
    many the launcher started (one, when nothing is distributed); rank 0 returns the metrics
    JSON, the others ``None``."""
    check_backend(job.spec.config)
    with joined(torch_device(job.device)) as device:
        snapshot = open_snapshot(job.snapshot)
        encode = user_text_encoder(snapshot, job.text_model, job.device, job.cache)
        payload = train(snapshot, job.snapshot, job.split, job.spec, device, encode, job.out)
        payload["ranks"] = current().world
        return payload if current().primary else None


def train(
    snapshot: Snapshot,
    snapshot_path: Path,
    split: SplitSpec,
    spec: TrainSpec,
    device: torch.device,
    encode: TextEncoderFn,
    out: Path,
) -> dict[str, Any]:
    """Run the experiment once per seed and write the first seed's checkpoint (or, with
    ``spec.refit``, the chosen variants retrained on every edge); returns the metrics JSON."""
    started = time.perf_counter()
    first = prepare_split(snapshot, split, spec.seeds[0], encode)
    if spec.save_split is not None and current().primary:
        _save_split(first, spec.save_split)
    payload = train_and_save(
        first,
        spec,
        device,
        out,
        snapshot_path,
        split.extra(),
        refit_with=encode if spec.refit else None,
        more_seeds=[
            (lambda s=s: prepare_split(snapshot, split, s, encode)) for s in spec.seeds[1:]
        ],
    )
    payload["seconds"] = round(time.perf_counter() - started, 2)
    return payload


def _save_split(prepared: Prepared, folder: Path) -> None:
    if prepared.split is None:
        raise JobError("--save-split needs a split")
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
        raise JobError(str(e)) from None


def train_and_save(
    prepared: Prepared,
    spec: TrainSpec,
    device: torch.device,
    folder: Path,
    snapshot_path: Path,
    extra: dict[str, Any],
    refit_with: TextEncoderFn | None = None,
    more_seeds: list[Callable[[], Prepared]] | None = None,
) -> dict[str, Any]:
    """Run the experiment (once per seed: ``prepared`` is the first seed's, ``more_seeds``
    prepare the others one at a time) and write the first seed's checkpoint, or with
    ``refit_with`` the model retrained on every edge; returns the metrics JSON."""
    seed = prepared.split.seed if prepared.split else 0

    def experiment(data: Prepared, train_seed: int):
        return run_experiment(
            data,
            spec.config,
            device,
            train_seed,
            spec.baselines,
            baseline_configs=spec.baseline_configs,
            variants=spec.variants,
            mix_min_users=spec.mix_min_users,
            ensemble=spec.ensemble,
        )

    try:
        payload, ours = experiment(prepared, seed)
        runs = [payload]
        for make in more_seeds or []:
            other = make()
            runs.append(experiment(other, other.split.seed if other.split else 0)[0])
    except ValueError as e:
        raise JobError(str(e)) from None
    assert ours is not None
    model, graph, user_features = ours.model, ours.graph, prepared.user_features
    if refit_with is not None:
        with primary_first():
            everything = prepare(prepared.snapshot, "all", seed, refit_with)
        model, graph = refit(everything, ours.members(), device, seed)
        user_features = everything.user_features
    if not current().primary:
        return {}
    if len(runs) > 1:
        payload = aggregate(runs)
    payload["device"] = str(device)
    payload["environment"] = _environment(device)
    payload["checkpoint"] = str(folder)
    payload["refit"] = refit_with is not None
    info = {
        "split": prepared.split.mode if prepared.split else "all",
        "seed": seed,
        "fit": ours.summary(),
        **({f"{kind}_mix": w for kind, w in ours.mix.weights.items()} if ours.mix else {}),
        **(ours.mix.setting_keys() if ours.mix else {}),
        "ensembles": {
            t: {v: c.to_dict() for v, c in m.items()} for t, m in ours.ensemble_configs().items()
        },
        "refit": refit_with is not None,
        "dataset": prepared.dataset,
        "baseline_configs": {n: c.to_dict() for n, c in spec.baseline_configs.items()},
        **extra,
    }
    save_checkpoint(
        folder,
        model,
        spec.config,
        ours.configs,
        graph.id_mask,
        prepared.snapshot,
        snapshot_path,
        user_features,
        info,
        payload,
    )
    return payload


def _environment(device: torch.device) -> dict[str, Any]:
    """What else a run's last digits can depend on besides its inputs and seeds, the order
    floats are summed in: the torch build, the vector kernels it picked for this CPU, its
    threads and the GPU. Recorded so a rerun that differs can be told why (README,
    "Reproducing a figure")."""
    environment: dict[str, Any] = {
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        environment["gpu"] = torch.cuda.get_device_name(device)
    return environment


def _checkpoint_split(
    checkpoint: Checkpoint, snapshot: Snapshot, encode: TextEncoderFn
) -> tuple[Prepared, int]:
    """The split (and seed) a checkpoint was trained on, rebuilt; refused for a refitted
    checkpoint, which has seen the test edges."""
    if checkpoint.info.get("refit"):
        raise JobError(
            f"checkpoint {checkpoint.folder} was refitted on every edge, test edges included: "
            "its split figures are in its metrics.json; evaluate a checkpoint trained without "
            "--refit"
        )
    info = checkpoint.info
    split = SplitSpec(
        info["split"],
        Path(info["published"]) if info.get("published") else None,
        info.get("id_prefix", ""),
        bool(info.get("user_profiles", False)),
    )
    return prepare_split(snapshot, split, info["seed"], encode), info["seed"]


def evaluate(
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    baselines: tuple[str, ...],
    device: torch.device,
    encode: TextEncoderFn,
    mix_min_users: int | None = None,
) -> dict[str, Any]:
    """A checkpoint on its split's test edges, baselines retrained on the same split; with
    ``mix_min_users`` (validation users a target needs), its weights against the mix partners
    chosen afresh on the split's validation edges first (the checkpoint is not changed)."""
    prepared, seed = _checkpoint_split(checkpoint, snapshot, encode)
    info = checkpoint.info
    graph = graph_for(prepared, checkpoint.config).to(device)
    if mix_min_users is None:
        model = checkpoint.scorer(graph)
        mixes, figures, settings = checkpoint.mixes, {}, checkpoint.partner_settings
    else:
        alone = checkpoint.model(graph)
        chosen = choose_mixes(alone, graph, prepared, device, seed, mix_min_users)
        model = chosen.scorer(alone)
        mixes, figures, settings = chosen.weights, chosen.figures, chosen.settings
    reports = {f"{partner}_mix": {"weights": weights} for partner, weights in mixes.items()}
    for partner, by_weight in figures.items():
        reports[f"{partner}_mix"][f"validation_recall@20_by_{partner}_weight"] = by_weight
    for partner, values in settings.items():
        reports[f"{partner}_mix"][CHOSEN_SETTINGS[partner][1]] = values
    payload: dict[str, Any] = {
        "dataset": prepared.dataset,
        "split": prepared.split.mode,
        "model": f"hetero-{checkpoint.config.conv}",
        "seed": seed,
        "metrics": evaluate_model(
            model, graph, ranking_tasks(prepared, graph, "test"), device, seed
        ),
        **reports,
        "baselines": {},
        "checkpoint": str(checkpoint.folder),
    }
    if baselines:
        tuned = {
            name: ModelConfig.from_dict(values)
            for name, values in info.get("baseline_configs", {}).items()
        }
        baseline_payload, _ = run_experiment(
            prepared,
            checkpoint.config,
            device,
            seed,
            baselines,
            train_ours=False,
            baseline_configs=tuned,
        )
        payload["baselines"] = baseline_payload["baselines"]
    return payload


def fairness_report(
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    baselines: tuple[str, ...],
    device: torch.device,
    encode: TextEncoderFn,
    by: Sequence[str] = (),
    penalties: Sequence[float] = PENALTIES,
) -> dict[str, Any]:
    """User→item quality per user group and exposure per item group on the checkpoint's test
    split (:mod:`training.fairness`), for ours and each baseline (retrained on the same split),
    and the popularity penalty's price for ours at each weight of ``penalties``."""
    users, items = snapshot.nodes["user"], snapshot.nodes["item"]
    unknown = [a for a in by if a not in users.columns and a not in items.columns]
    if unknown:
        held = sorted(c for c in [*users.columns, *items.columns] if c.startswith("attr_"))
        raise JobError(
            f"--by {', '.join(unknown)}: no such user or item attribute in the snapshot "
            f"(it has {', '.join(held) or 'none'}; attributes come from attr_* columns)"
        )
    prepared, seed = _checkpoint_split(checkpoint, snapshot, encode)
    graph = graph_for(prepared, checkpoint.config).to(device)
    task = ranking_tasks(prepared, graph, "test")["user_item"]
    if len(task.users) == 0:
        raise JobError(f"checkpoint {checkpoint.folder}: its split has no user→item test edges")
    user_groups = {"activity": activity_groups(task.user_train_count)}
    user_groups |= {a: as_labels(users[a]) for a in by if a in users.columns}
    item_groups = {"popularity": popularity_groups(task.train_degree)}
    item_groups |= {a: as_labels(items[a]) for a in by if a in items.columns}

    @torch.no_grad()
    def report(model: torch.nn.Module, model_graph: Graph, weight: float = 0.0) -> dict:
        model.eval()
        emb = model.embed(model_graph)
        score = popularity_penalty(
            lambda u: model.matrix(emb, "user_item", u), task.train_degree, weight
        )
        ranked = rank_users(task, score, device, seed)
        return {
            "recall@20": mean_of(ranked.values["recall@20"]),
            "ndcg@20": mean_of(ranked.values["ndcg@20"]),
            "users": user_report(ranked, task, user_groups),
            "items": item_report(ranked, task, item_groups),
        }

    ours = checkpoint.scorer(graph)
    payload: dict[str, Any] = {
        "dataset": prepared.dataset,
        "split": prepared.split.mode,
        "seed": seed,
        "checkpoint": str(checkpoint.folder),
        "ours": report(ours, graph),
        "baselines": {},
        "popularity_penalty": [],
    }
    for weight in penalties:
        result = payload["ours"] if weight == 0 else report(ours, graph, weight)
        payload["popularity_penalty"].append(
            {
                "weight": weight,
                "recall@20": result["recall@20"],
                "ndcg@20": result["ndcg@20"],
                "gini": result["items"]["gini"],
                "tail_share": result["items"]["tail_share"],
            }
        )
    tuned = checkpoint.info.get("baseline_configs", {})
    for name in baselines:
        if StaticScorer.UNSUPPORTED.get(name) == "user_item":
            continue
        config = ModelConfig.from_dict(tuned[name]) if name in tuned else checkpoint.config
        model, model_graph, _ = train_model(name, prepared, config, device, seed, progress=True)
        payload["baselines"][name] = report(model, model_graph)
    return payload


def tune(
    snapshot: Snapshot,
    split: SplitSpec,
    conv: str,
    baseline: str | None,
    epochs: int,
    trials: int,
    storage: Path,
    study: str | None,
    seed: int,
    device: torch.device,
    encode: TextEncoderFn,
) -> dict[str, Any]:
    """An Optuna study on validation Recall@20 (resumable), for ours or a learned baseline;
    writes ``best_params-STUDY.json`` beside the storage."""
    if baseline is not None and baseline not in LEARNED_BASELINES:
        choices = ", ".join(LEARNED_BASELINES)
        raise JobError(f"--baseline must be one of {choices}, got {baseline!r}")
    tuned_model = baseline or "ours"
    prepared = prepare_split(snapshot, split, seed, encode)
    base = replace(ModelConfig(conv=conv), fit=FitConfig(epochs=epochs))
    name = study or f"{prepared.dataset}-{prepared.split.mode}-{baseline or conv}"
    result = run_study(prepared, base, device, trials, storage, name, seed, model=tuned_model)
    params_path = storage.parent / f"best_params-{name}.json"
    write_params(params_path, tuned_model, result["best_params"])
    result["params_file"] = str(params_path)
    return result


def predict(
    driver: Driver,
    database: str | None,
    checkpoint: Checkpoint,
    snapshot: Snapshot,
    k: int,
    targets: Sequence[str],
    device: torch.device,
    users_per_transaction: int = 500,
    keep_previous: bool = False,
    paths: int = STORED_PATHS,
    wait: float = 0.0,
    shards: Path | None = None,
    writers: int = 2,
) -> dict[str, Any]:
    """Write the top-K new items and interests of every user, each with its best ``paths``
    explanation paths, as one atomically switched run (waiting up to ``wait`` seconds for
    another predict job to finish); scored here, or taken from the ``shards`` folder of
    ``predict --to-shards``."""
    _check_targets(checkpoint, targets)
    source = None
    if shards is not None:
        try:
            manifest = read_manifest(shards, checkpoint, snapshot, k, targets)
        except ShardError as e:
            raise JobError(str(e)) from None
        user_ids = snapshot.nodes["user"]["id"].astype(str).to_numpy()
        source = shard_source(shards, manifest, user_ids, users_per_transaction)
    try:
        return write_predictions(
            driver,
            checkpoint,
            snapshot,
            k,
            targets,
            device,
            database,
            users_per_transaction,
            keep_previous,
            paths=paths,
            wait=wait,
            source=source,
            writers=writers,
        )
    except ValueError as e:
        raise JobError(str(e)) from None


def _check_targets(checkpoint: Checkpoint, targets: Sequence[str]) -> None:
    unknown = [t for t in targets if t not in PREDICTION_TARGETS]
    if unknown or not targets:
        raise JobError(f"--targets takes item and/or interest, got {','.join(targets)!r}")
    if "interest" in targets and not checkpoint.uses_interests:
        raise JobError("this checkpoint was trained without interest nodes: use --targets item")


@dataclass(frozen=True)
class ShardJob:
    """A ``predict --to-shards`` run as plain, picklable values (what each rank receives)."""

    checkpoint: Path
    snapshot: Path | None
    out: Path
    k: int
    targets: tuple[str, ...]
    device: str
    chunk: int = 500


def run_score_shards(job: ShardJob) -> dict[str, Any] | None:
    """Score this rank's users into Parquet shards (no Neo4j needed); rank 0 returns the
    manifest once every rank is done, the others ``None``."""
    with joined(torch_device(job.device)) as device:
        checkpoint, snapshot = open_checkpoint(job.checkpoint, job.snapshot)
        _check_targets(checkpoint, job.targets)
        try:
            return score_to_shards(
                checkpoint, snapshot, job.out, job.k, job.targets, device, job.chunk
            )
        except (ValueError, OSError) as e:
            raise JobError(f"{job.out}: {e}") from None


#: the demo's variant choice: ours against its LightGCN-equivalent, then a refit on every edge
DEMO_VARIANTS = ("full", "lightgcn")


def model_demo(
    driver: Driver, database: str | None, home: Path, dataset: str, text_model: str
) -> dict[str, Any]:
    """The model half of ``demo``: export, train (choosing between ours and its
    LightGCN-equivalent on validation, popularity as the baseline), refit on every edge, predict
    with the refitted model. No separate LightGCN baseline: the LightGCN-equivalent variant is
    LightGCN, trained and compared on validation already, and a second copy would add a third
    of the demo's time."""
    folder = home / "snapshot"
    exported = export_to(driver, database, folder, dataset)
    snapshot = open_snapshot(folder)
    device = torch_device("auto")
    encode = user_text_encoder(snapshot, text_model, "auto", home / "embeddings.sqlite")
    checkpoint = home / "checkpoint"
    metrics = train(
        snapshot,
        folder,
        SplitSpec(),
        TrainSpec(ModelConfig(), ("popularity",), variants=DEMO_VARIANTS, refit=True),
        device,
        encode,
        checkpoint,
    )
    predicted = predict(
        driver,
        database,
        load_checkpoint(checkpoint),
        snapshot,
        20,
        ["item", "interest"],
        device,
    )
    return {"export": exported, "train": metrics, "predict": predicted}
