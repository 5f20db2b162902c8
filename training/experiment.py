"""One experiment: prepare a split of a snapshot, train our model and the baselines on it, and
evaluate them all with the same ranking tasks. This is what ``train``, ``evaluate`` and ``tune``
call; nothing here knows about Neo4j or the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from gnn.encoders import HeteroEncoder
from gnn.graph import TARGETS, Graph
from gnn.models import (
    LightGCNBaseline,
    LinkPredictor,
    PerTargetModel,
    StaticScorer,
    matrix_factorisation,
)
from graphdb.snapshot import Snapshot
from training.data import TextEncoderFn, build_graph, target_edges, training_pairs, user_texts
from training.loop import FitConfig, FitResult, fit
from training.metrics import RankingTask, evaluate_ranking
from training.published import PublishedSplit
from training.splits import Split, TargetSplit, make_split, per_user_holdout

LEARNED_BASELINES = ("mf_bpr", "lightgcn")
STATIC_BASELINES = ("popularity", "llm_cosine", "interests_of_items")
BASELINES = ("popularity", "mf_bpr", "lightgcn", "llm_cosine", "interests_of_items")


@dataclass
class ModelConfig:
    """Architecture and optimisation of our model (every field is tunable)."""

    conv: str = "lgc"
    dim: int = 64
    layers: int = 3
    decoder: str = "dot"
    use_features: bool = True
    use_ids: bool = True
    use_interests: bool = True
    dropout: float = 0.0
    heads: int = 2
    noise: float = 0.1
    fit: FitConfig = field(default_factory=FitConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        values = dict(values)
        fit_values = values.pop("fit", {})
        return cls(**values, fit=FitConfig(**fit_values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Prepared:
    """A snapshot split for training: target edges, training pairs and user features."""

    snapshot: Snapshot
    split: Split
    targets: dict[str, pd.DataFrame]
    pairs: dict[str, np.ndarray]
    user_features: np.ndarray

    @property
    def dataset(self) -> str:
        return str(self.snapshot.manifest.get("name", "graph"))


def prepare(
    snapshot: Snapshot,
    split_mode: str,
    seed: int,
    encode_texts: TextEncoderFn,
    published: PublishedSplit | None = None,
    use_profiles: bool = False,
) -> Prepared:
    """Split the target relations and embed user texts rebuilt from training edges only."""
    targets = target_edges(snapshot)
    if published is not None:
        targets["user_item"] = published.edges
        split = make_split("user-random", {"user_interest": targets["user_interest"]}, 0, seed)
        split.mode = "published"
        split.targets["user_item"] = _published_target(published, seed)
        split.notes.append(f"user_item: published split from {published.source}")
    else:
        split = make_split(split_mode, targets, snapshot.num_nodes("item"), seed)
    pairs = training_pairs(targets, split)
    texts = user_texts(snapshot, targets, pairs, use_profiles)
    features = np.asarray(encode_texts(texts), dtype=np.float32)
    return Prepared(snapshot, split, targets, pairs, features)


def _published_target(published: PublishedSplit, seed: int) -> TargetSplit:
    """The paper's train/test; validation = a per-user 10% of its training edges."""
    train_rows = np.flatnonzero(published.is_train)
    inner = per_user_holdout(published.edges.iloc[train_rows], np.random.default_rng(seed))
    return TargetSplit(
        train=np.sort(train_rows[np.r_[inner.train, inner.test]]),
        val=train_rows[inner.val],
        test=np.flatnonzero(~published.is_train),
        candidates={"val": published.items, "test": published.items},
    )


def graph_for(prepared: Prepared, config: ModelConfig) -> Graph:
    return build_graph(
        prepared.snapshot, prepared.pairs, prepared.user_features, config.use_interests
    )


def build_model(name: str, config: ModelConfig, graph: Graph) -> nn.Module:
    """``ours`` (the hetero GNN of ``config``) or a baseline name."""
    if name == "ours":
        feature_dim = graph.x["item"].shape[1] if config.use_features else None
        encoder = HeteroEncoder(
            graph.num_nodes,
            feature_dim,
            list(graph.edge_index),
            dim=config.dim,
            layers=config.layers,
            conv=config.conv,
            use_ids=config.use_ids,
            heads=config.heads,
            dropout=config.dropout,
            noise=config.noise,
        )
        return LinkPredictor(encoder, config.dim, config.decoder)
    if name == "mf_bpr":
        return matrix_factorisation(graph.num_nodes, config.dim)
    if name == "lightgcn":
        return LightGCNBaseline(graph.num_nodes, config.dim, config.layers)
    if name in STATIC_BASELINES:
        return StaticScorer(name, graph)
    raise ValueError(f"unknown model {name!r}; choose ours or one of {', '.join(BASELINES)}")


def ranking_tasks(prepared: Prepared, graph: Graph, part: str) -> dict[str, RankingTask]:
    """Held-out edges of ``part`` (val or test) per target present in ``graph``."""
    tasks = {}
    for target, (src_type, dst_type) in TARGETS.items():
        if dst_type not in graph.num_nodes:
            continue
        frame = prepared.targets[target][["src", "dst"]].to_numpy()
        split = prepared.split.targets[target]
        held = frame[getattr(split, part)].T
        excluded = [split.train] + ([split.val] if part == "test" else [])
        exclude = frame[np.concatenate(excluded)].T
        n_dst = graph.num_nodes[dst_type]
        train_pairs = prepared.pairs[target]
        item_pairs = prepared.pairs["user_item"]
        tasks[target] = RankingTask(
            users=np.unique(held[0]),
            truth=held,
            exclude=exclude,
            num_candidates=n_dst,
            candidates=split.candidates.get(part),
            train_degree=np.bincount(train_pairs[1], minlength=n_dst).astype(np.float64),
            user_train_count=np.bincount(item_pairs[0], minlength=graph.num_nodes[src_type]),
            num_users=graph.num_nodes[src_type],
            embeddings=prepared.snapshot.embeddings[dst_type],
        )
    return tasks


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    graph: Graph,
    tasks: dict[str, RankingTask],
    device: torch.device,
    seed: int = 0,
    full: bool = True,
) -> dict[str, dict[str, Any]]:
    """Metrics per target (full=False: the cheap validation figures, no slices)."""
    model.eval()
    emb = model.embed(graph)
    out = {}
    for target, task in tasks.items():
        if (
            isinstance(model, StaticScorer)
            and model.kind == "interests_of_items"
            and target != "user_interest"
        ):
            continue
        out[target] = evaluate_ranking(
            task,
            lambda users, t=target: model.matrix(emb, t, users),
            device,
            seed=seed,
            slices=full and target == "user_item",
        )
    return out


def validation_scores(metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Early-stopping signal: validation Recall@20 of each target that has validation users."""
    return {t: float(m["recall@20"]) for t, m in metrics.items() if m.get("users")}


def trained_model(
    name: str, config: ModelConfig, graph: Graph, states: dict[str, dict[str, torch.Tensor]]
) -> PerTargetModel:
    """A :class:`PerTargetModel` of ``name`` with each target's weights (fresh modules, so the
    same call rebuilds a checkpoint's model from its state dict)."""
    models = {}
    for target, state in states.items():
        model = build_model(name, config, graph).to(graph.id_mask["user"].device)
        model.load_state_dict(state)
        models[target] = model.eval()
    return PerTargetModel(models)


def load_trained(
    config: ModelConfig, graph: Graph, state: dict[str, torch.Tensor]
) -> PerTargetModel:
    """Our model from a checkpoint's state dict (``models.<target>.<parameter>`` keys)."""
    targets = sorted({key.split(".")[1] for key in state})
    split = {
        t: {k.split(".", 2)[2]: v for k, v in state.items() if k.split(".")[1] == t}
        for t in targets
    }
    return trained_model("ours", config, graph, split)


def train_model(
    name: str,
    prepared: Prepared,
    config: ModelConfig,
    device: torch.device,
    seed: int = 0,
    progress: bool = True,
    report: Callable[[int, float], None] | None = None,
) -> tuple[nn.Module, Graph, FitResult]:
    """Build and fit ``name`` on the training graph (static baselines need no fitting); a
    learned model comes back as a :class:`PerTargetModel` of each target's best weights."""
    torch.manual_seed(seed)
    graph = graph_for(prepared, config).to(device)
    model = build_model(name, config, graph).to(device)
    if isinstance(model, StaticScorer):
        return model, graph, FitResult()
    val_tasks = ranking_tasks(prepared, graph, "val")
    pairs = {
        t: torch.from_numpy(prepared.pairs[t]).to(device)
        for t, (_, d) in TARGETS.items()
        if d in graph.num_nodes
    }
    negatives = {t: torch.unique(p[1]) for t, p in pairs.items()}
    result = fit(
        model,
        graph,
        pairs,
        negatives,
        lambda m: validation_scores(evaluate_model(m, graph, val_tasks, device, seed, full=False)),
        config.fit,
        seed=seed,
        progress=progress,
        report=report,
        desc=name,
    )
    return trained_model(name, config, graph, result.states), graph, result


def run_experiment(
    prepared: Prepared,
    config: ModelConfig,
    device: torch.device,
    seed: int = 0,
    baselines: tuple[str, ...] = BASELINES,
    progress: bool = True,
    train_ours: bool = True,
    baseline_configs: dict[str, ModelConfig] | None = None,
) -> tuple[dict[str, Any], nn.Module | None, dict[str, Any]]:
    """Train ours and the baselines, evaluate all on test: (metrics JSON, our model, its fit).
    A baseline runs with ``config`` unless ``baseline_configs`` has its own (tuned) one."""
    payload: dict[str, Any] = {
        "dataset": prepared.dataset,
        "split": prepared.split.mode,
        "model": f"hetero-{config.conv}",
        "seed": seed,
        "metrics": {},
        "baselines": {},
        "training": {},
    }
    model, fit_info = None, {}
    if train_ours:
        model, graph, result = train_model("ours", prepared, config, device, seed, progress)
        payload["metrics"] = evaluate_model(
            model, graph, ranking_tasks(prepared, graph, "test"), device, seed
        )
        fit_info = payload["training"]["ours"] = result.summary()
    for name in baselines:
        base_config = (baseline_configs or {}).get(name, config)
        base, base_graph, base_result = train_model(
            name, prepared, base_config, device, seed, progress
        )
        payload["baselines"][name] = evaluate_model(
            base, base_graph, ranking_tasks(prepared, base_graph, "test"), device, seed
        )
        if name in LEARNED_BASELINES:
            payload["training"][name] = base_result.summary()
    payload["split_summary"] = prepared.split.summary()
    return payload, model, fit_info
