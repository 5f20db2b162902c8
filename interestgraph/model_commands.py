"""``export``, ``train``, ``evaluate``, ``tune`` and ``predict``: thin typer adapters over
:mod:`training.jobs`, which is imported inside each command (it loads torch and PyG)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from features.encoder import DEFAULT_MODEL
from interestgraph.common import JsonFlag, graph, reported
from interestgraph.output import emit, fail, table
from interestgraph.settings import Settings
from training.choices import BASELINES, MIX_MIN_PAIRS, MIX_MIN_USERS, MODES, VARIANTS

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
IdPrefixOpt = Annotated[str, typer.Option(help="Prefix of snapshot ids for --published maps.")]
UserProfilesOpt = Annotated[
    bool,
    typer.Option(
        help="Use supplied User.text profiles as user texts (only if they were written from "
        "training data, e.g. CoLaKG's for its split); default: rebuilt from training edges."
    ),
]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
CheckpointOpt = Annotated[Path, typer.Option(help="Checkpoint folder from `train`.")]
BaselinesOpt = Annotated[str, typer.Option(help=f"Comma list of {', '.join(BASELINES)}, or none.")]
TextModelOpt = Annotated[
    str, typer.Option(help="Encoder for user and item texts (the snapshot's).")
]
MixMinUsersOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Validation users a target needs before its mix weights are chosen, unless it "
        f"holds {MIX_MIN_PAIRS:,} held-out pairs (fewer of both: ours alone).",
    ),
]
DistributedOpt = Annotated[
    bool,
    typer.Option(
        help="Run on --nproc local processes, started here as `torchrun --standalone` would "
        "(gloo on CPU, NCCL on GPUs: one per process); under torchrun or Ray Train the ranks "
        "come from the environment instead. train: data-parallel (DDP); predict: --to-shards "
        "split by user."
    ),
]
NprocOpt = Annotated[int, typer.Option(min=1, help="Processes for --distributed.")]
LauncherOpt = Annotated[
    str,
    typer.Option(
        help="What starts the --distributed processes: torch (its elastic launcher, as "
        "torchrun) or ray (Ray Train / Ray Data; needs the [ray] extra)."
    ),
]
LAUNCHERS = ("torch", "ray")


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
    from training.jobs import export_to

    folder = out or Settings().home / "snapshot"
    with graph(as_json) as (driver, database), reported(as_json):
        payload = export_to(driver, database, folder, name or folder.name)
    emit(
        payload,
        as_json,
        lambda c: c.print(
            f"snapshot {folder}: {sum(payload['edges'].values())} edges at "
            f"{payload['edges_per_second']}/s, hash {payload['content_hash'][:12]}",
            highlight=False,
        ),
    )


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


def train(
    snapshot: SnapshotOpt = None,
    split: SplitOpt = "user-random",
    published: PublishedOpt = None,
    id_prefix: IdPrefixOpt = "",
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
    cold_items: Annotated[
        float,
        typer.Option(
            help="Share of items trained as if new at each step: ids hidden, user edges cut "
            "(lgc with features only; 0 = off)."
        ),
    ] = 0.0,
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
    baselines: BaselinesOpt = ",".join(BASELINES),
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
    content_mix: Annotated[
        bool,
        typer.Option(
            "--content-mix/--no-content-mix",
            help="Per target, mix ours with the content baseline (the user's items' mean text · "
            "the candidate's text), then with user_knn, rp3beta and ease, each at the weight "
            "validation chooses among 1.0 (ours alone), 0.8 … 0.2.",
        ),
    ] = True,
    content_mix_min_users: MixMinUsersOpt = MIX_MIN_USERS,
    ensemble: Annotated[
        bool,
        typer.Option(
            "--ensemble/--no-ensemble",
            help="Per target, let validation choose an ensemble of the best few variants "
            "(standardised scores averaged) over the best one alone.",
        ),
    ] = True,
    device: DeviceOpt = "auto",
    text_model: TextModelOpt = DEFAULT_MODEL,
    out: Annotated[
        Path | None,
        typer.Option(help="Checkpoint folder [default: $INTERESTGRAPH_HOME/checkpoint]."),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="Where ours propagates: pyg, or dgl (lgc only; DGL's own environment, "
            "`make setup-dgl`). Checkpoints are the same either way."
        ),
    ] = "pyg",
    distributed: DistributedOpt = False,
    nproc: NprocOpt = 2,
    launcher: LauncherOpt = "torch",
    as_json: JsonFlag = False,
) -> None:
    """Train the hetero GNN and the baselines on one split; write a checkpoint and metrics JSON."""
    from training.experiment import ModelConfig
    from training.jobs import SplitSpec, TrainJob, TrainSpec, run_train, with_params
    from training.loop import FitConfig

    settings = Settings()
    with reported(as_json):
        fit = FitConfig(
            lr=lr, reg=reg, batch_size=batch_size, epochs=epochs, loss=loss, cl_weight=cl_weight
        )
        config, baseline_configs = with_params(
            ModelConfig(
                conv=model,
                dim=dim,
                layers=layers,
                decoder=decoder,
                use_features=features,
                use_ids=ids,
                use_interests=interests,
                noise=noise,
                cold_items=cold_items,
                backend=backend,
                fit=fit,
            ),
            params or [],
        )
        spec = TrainSpec(
            config,
            _baselines(baselines, as_json),
            baseline_configs,
            _names(variants, VARIANTS, "variant", as_json),
            tuple(_seeds(seeds, seed, as_json)),
            refit,
            save_split,
            content_mix_min_users if content_mix else None,
            ensemble,
        )
        job = TrainJob(
            snapshot or settings.home / "snapshot",
            SplitSpec(split, published, id_prefix, user_profiles),
            spec,
            device,
            text_model,
            settings.home / "embeddings.sqlite",
            out or settings.home / "checkpoint",
        )
        payload = _distributed(job, distributed, nproc, _launcher(launcher, as_json), run_train)
    if payload is None:  # a rank other than 0 under torchrun: rank 0 reports
        return
    emit(payload, as_json, lambda c: _render_metrics(c, payload))


def prepare_split(
    snapshot: SnapshotOpt = None,
    split: SplitOpt = "user-random",
    published: PublishedOpt = None,
    id_prefix: IdPrefixOpt = "",
    user_profiles: UserProfilesOpt = False,
    seeds: Annotated[str, typer.Option(help="Comma list of the seeds `train` will use.")] = "0",
    refit: Annotated[
        bool, typer.Option(help="Also the every-edge texts that `train --refit` embeds.")
    ] = False,
    device: DeviceOpt = "auto",
    text_model: TextModelOpt = DEFAULT_MODEL,
    as_json: JsonFlag = False,
) -> None:
    """Embed a split's derived user and item texts into the cache, training nothing: what
    `train` reads where no text encoder runs (the DGL environment)."""
    from training.jobs import SplitSpec, prepare_splits

    settings = Settings()
    chosen = _seeds(seeds, 0, as_json)
    with reported(as_json):
        payload = prepare_splits(
            snapshot or settings.home / "snapshot",
            SplitSpec(split, published, id_prefix, user_profiles),
            chosen,
            refit,
            text_model,
            device,
            settings.home / "embeddings.sqlite",
        )
    emit(
        payload,
        as_json,
        lambda c: c.print(
            f"{payload['split']}: seeds {', '.join(map(str, chosen))}"
            f"{' and every edge' if refit else ''} embedded into {payload['cache']}",
            highlight=False,
        ),
    )


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


def evaluate(
    checkpoint: CheckpointOpt,
    snapshot: SnapshotOpt = None,
    baselines: BaselinesOpt = ",".join(BASELINES),
    content_mix: Annotated[
        bool,
        typer.Option(
            help="Choose the weights against the content baseline, user_knn, rp3beta and ease "
            "afresh on the checkpoint's validation edges (as `train --content-mix` does) instead "
            "of the stored ones."
        ),
    ] = False,
    content_mix_min_users: MixMinUsersOpt = MIX_MIN_USERS,
    device: DeviceOpt = "auto",
    text_model: TextModelOpt = DEFAULT_MODEL,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a checkpoint on its split's test edges (baselines retrained on the same split)."""
    from training.jobs import evaluate as evaluate_checkpoint

    chosen = _baselines(baselines, as_json)
    with reported(as_json):
        payload = evaluate_checkpoint(
            *_checkpoint_job(checkpoint, snapshot, device, text_model, chosen),
            content_mix_min_users if content_mix else None,
        )
    emit(payload, as_json, lambda c: _render_metrics(c, payload))


def _checkpoint_job(
    checkpoint: Path,
    snapshot: Path | None,
    device: str,
    text_model: str,
    baselines: tuple[str, ...],
) -> tuple[Any, ...]:
    """The leading arguments of a job over a checkpoint's split: the checkpoint, its snapshot,
    the baselines, the device and the user-text encoder (cached under the home)."""
    from training.jobs import open_checkpoint, torch_device, user_text_encoder

    ckpt, data = open_checkpoint(checkpoint, snapshot)
    encode = user_text_encoder(data, text_model, device, Settings().home / "embeddings.sqlite")
    return ckpt, data, baselines, torch_device(device), encode


def fairness(
    checkpoint: CheckpointOpt,
    snapshot: SnapshotOpt = None,
    by: Annotated[
        list[str] | None,
        typer.Option(help="A user or item attribute to group by (attr_* column; repeat it)."),
    ] = None,
    penalties: Annotated[
        str, typer.Option(help="Popularity-penalty weights to price, comma separated.")
    ] = "0,0.25,0.5,1",
    baselines: BaselinesOpt = ",".join(BASELINES),
    device: DeviceOpt = "auto",
    text_model: TextModelOpt = DEFAULT_MODEL,
    as_json: JsonFlag = False,
) -> None:
    """Who the model serves worse and what it never shows: Recall@20 and NDCG@20 per user group
    (activity, attributes), top-20 exposure per item group (popularity, attributes) with its
    Gini index, for ours and each baseline; and what a popularity penalty costs and buys."""
    from training.jobs import fairness_report

    chosen = _baselines(baselines, as_json)
    try:
        weights = [float(w) for w in penalties.split(",") if w.strip()]
    except ValueError:
        raise fail(
            f"--penalties takes numbers separated by commas, got {penalties!r}", as_json
        ) from None
    with reported(as_json):
        payload = fairness_report(
            *_checkpoint_job(checkpoint, snapshot, device, text_model, chosen), by or [], weights
        )
    emit(payload, as_json, lambda c: _render_fairness(c, payload))


def _render_fairness(console: Console, payload: dict[str, Any]) -> None:
    models = {"ours": payload["ours"], **payload["baselines"]}
    rows = []
    for name, result in models.items():
        for attribute, part in result["users"].items():
            ratio = part["worst_to_best_recall@20"]
            rows.append([name, attribute, "" if ratio is None else f"{ratio:.3f}"])
        rows.append([name, "exposure Gini", f"{result['items']['gini']:.3f}"])
        rows.append([name, "tail share", f"{result['items']['tail_share']:.3f}"])
    table(console, ["model", "measure", "value"], rows, title="Groups and exposure")
    table(
        console,
        ["penalty", "recall@20", "ndcg@20", "gini", "tail share"],
        [
            [p["weight"], p["recall@20"], p["ndcg@20"], p["gini"], p["tail_share"]]
            for p in payload["popularity_penalty"]
        ],
        title="Popularity penalty: what it costs and buys",
    )


def tune(
    trials: Annotated[
        int, typer.Option(min=1, help="Total finished trials wanted in the study.")
    ] = 20,
    snapshot: SnapshotOpt = None,
    split: SplitOpt = "user-random",
    published: PublishedOpt = None,
    id_prefix: IdPrefixOpt = "",
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
    from training.jobs import SplitSpec, open_snapshot, torch_device, user_text_encoder
    from training.jobs import tune as run_tuning

    home = Settings().home
    with reported(as_json):
        data = open_snapshot(snapshot or home / "snapshot")
        result = run_tuning(
            data,
            SplitSpec(split, published, id_prefix, user_profiles),
            model,
            baseline,
            epochs,
            trials,
            storage or home / "optuna.sqlite",
            study,
            seed,
            torch_device(device),
            user_text_encoder(data, text_model, device, home / "embeddings.sqlite"),
        )
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


def _launcher(name: str, as_json: bool) -> str:
    if name not in LAUNCHERS:
        raise fail(f"--launcher takes {' or '.join(LAUNCHERS)}, got {name!r}", as_json)
    return name


def _distributed(
    job: Any,
    distributed: bool,
    nproc: int,
    launcher: str,
    entry: Callable[[Any], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """``entry(job)`` here (one process, or one rank that torchrun or Ray started), or on
    ``nproc`` ranks started by ``launcher``; rank 0's result (``None`` on the other ranks)."""
    from training.distributed import launch, launched

    if not distributed or launched():
        return entry(job)
    if launcher == "ray":
        from training.ray_engine import run_on_ray

        return run_on_ray(entry, job, nproc)
    return launch(nproc, entry, job)


def predict(
    checkpoint: CheckpointOpt,
    k: Annotated[int, typer.Option(min=1, max=1000, help="Predictions per user and target.")] = 20,
    targets: Annotated[str, typer.Option(help="Comma list of item, interest.")] = "item,interest",
    snapshot: SnapshotOpt = None,
    device: DeviceOpt = "auto",
    users_per_transaction: Annotated[int, typer.Option(min=1)] = 500,
    keep_previous: Annotated[
        bool, typer.Option(help="Keep the replaced run (status superseded) to compare with.")
    ] = False,
    paths: Annotated[
        int,
        typer.Option(min=0, max=5, help="Explanation paths stored with each prediction (0: none)."),
    ] = 5,
    wait: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds to wait for another predict job's lock (0: fail at once)."
        ),
    ] = 0.0,
    to_shards: Annotated[
        Path | None,
        typer.Option(
            help="Only score, into Parquet shards and a manifest in this folder (no Neo4j); "
            "with --distributed or under torchrun, one shard per process."
        ),
    ] = None,
    from_shards: Annotated[
        Path | None,
        typer.Option(help="Write the shards of a finished --to-shards folder as one run."),
    ] = None,
    writers: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Threads that find explanation paths and write chunks side by side (users are "
            "split by chunk, so no two touch one user node).",
        ),
    ] = 2,
    distributed: DistributedOpt = False,
    nproc: NprocOpt = 2,
    launcher: LauncherOpt = "torch",
    as_json: JsonFlag = False,
) -> None:
    """Write the top-K new items and interests of every user as one atomically switched run
    (or score them into shards with --to-shards, and write those with --from-shards)."""
    from training.jobs import ShardJob, open_checkpoint, run_score_shards, torch_device
    from training.jobs import predict as write_predictions

    chosen = [t.strip() for t in targets.split(",") if t.strip()]
    if to_shards is not None and from_shards is not None:
        raise fail("--to-shards scores and --from-shards writes: give one of them", as_json)
    if to_shards is not None:
        job = ShardJob(
            checkpoint, snapshot, to_shards, k, tuple(chosen), device, users_per_transaction
        )
        with reported(as_json):
            manifest = _distributed(
                job, distributed, nproc, _launcher(launcher, as_json), run_score_shards
            )
        if manifest is not None:  # None: a rank other than 0 under torchrun
            emit(manifest, as_json)
        return
    if distributed:
        raise fail("--distributed splits the scoring: use it with --to-shards", as_json)
    with reported(as_json):
        ckpt, data = open_checkpoint(checkpoint, snapshot)
        device_ = torch_device(device)
        with graph(as_json) as (driver, database):
            report = write_predictions(
                driver,
                database,
                ckpt,
                data,
                k,
                chosen,
                device_,
                users_per_transaction,
                keep_previous,
                paths,
                wait,
                from_shards,
                writers,
            )
    emit(report, as_json)
