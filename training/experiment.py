"""One experiment: prepare a split of a snapshot, train our model and the baselines on it, and
evaluate them all with the same ranking tasks. This is what ``train``, ``evaluate`` and ``tune``
call; nothing here knows about Neo4j or the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from gnn.encoders import HeteroEncoder
from gnn.graph import TARGETS, Graph
from gnn.models import (
    EASE_PENALTIES,
    RP3_BETAS,
    WHITENING_SHRINKS,
    BaselineMix,
    LightGCNBaseline,
    LinkPredictor,
    PerTargetModel,
    StaticScorer,
    VariantEnsemble,
    matrix_factorisation,
)
from graphdb.snapshot import Snapshot
from training.choices import (
    BASELINES,
    INTEREST_BASELINES,
    LEARNED_BASELINES,
    MIX_MIN_PAIRS,
    MIX_MIN_USERS,
    MIX_PARTNERS,
    STATIC_BASELINES,
    VARIANTS,
)
from training.context import TrainingContext, derive_context, settle_event_interests
from training.data import (
    TextEncoderFn,
    build_graph,
    context_edges,
    target_edges,
    training_pairs,
    user_texts,
)
from training.distributed import current
from training.loop import FitConfig, FitResult, fit
from training.metrics import RankingTask, evaluate_ranking
from training.published import PublishedSplit
from training.splits import (
    Split,
    TargetSplit,
    make_split,
    per_user_holdout,
    restrict_cold_user_interests,
)

#: weights of our model against a mix partner that ``--content-mix`` tries on validation
#: (1.0: the model alone; never 0, which would ship the baseline under our name)
MIX_WEIGHTS = (1.0, 0.8, 0.6, 0.4, 0.2)


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
    #: share of items trained as cold at each step (DropoutNet-style; see HeteroEncoder)
    cold_items: float = 0.0
    #: relations the encoder does not propagate over (see :data:`VARIANTS`)
    exclude: tuple[str, ...] = ()
    #: where the ``lgc`` propagation runs: ``pyg`` or ``dgl`` (same operator, same parameters)
    backend: str = "pyg"
    fit: FitConfig = field(default_factory=FitConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        values = dict(values)
        fit_values = values.pop("fit", {})
        values["exclude"] = tuple(values.get("exclude", ()))
        return cls(**values, fit=FitConfig(**fit_values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def variant_config(config: ModelConfig, variant: str) -> ModelConfig:
    """``config`` with one of :data:`VARIANTS` applied."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    changes = dict(VARIANTS[variant])
    fit = config.fit
    if "cl_weight" in changes:
        fit = replace(fit, cl_weight=changes.pop("cl_weight"))
    return replace(config, **changes, fit=fit)


@dataclass
class Prepared:
    """A snapshot split for training: target edges, training pairs, the context derived from
    training events, and the user and item features built from them."""

    snapshot: Snapshot
    split: Split | None  # None: every edge and event trains (``--refit``)
    targets: dict[str, pd.DataFrame]
    pairs: dict[str, np.ndarray]
    user_features: np.ndarray
    item_features: np.ndarray
    context: TrainingContext

    @property
    def dataset(self) -> str:
        return str(self.snapshot.manifest.get("name", "graph"))

    @property
    def features(self) -> dict[str, np.ndarray]:
        return {
            "user": self.user_features,
            "item": self.item_features,
            "interest": self.snapshot.embeddings["interest"],
        }


def prepare(
    snapshot: Snapshot,
    split_mode: str,
    seed: int,
    encode_texts: TextEncoderFn,
    published: PublishedSplit | None = None,
    use_profiles: bool = False,
) -> Prepared:
    """Split the target relations, derive the context from training events
    (:mod:`training.context`) and embed user and item texts rebuilt from them.
    ``split_mode="all"`` trains on every edge and event (``--refit``)."""
    targets = target_edges(snapshot)
    split: Split | None
    if published is not None:
        targets["user_item"] = published.edges
        split = make_split("user-random", {"user_interest": targets["user_interest"]}, 0, seed)
        split.mode = "published"
        split.targets["user_item"] = _published_target(published, seed)
        split.notes.append(f"user_item: published split from {published.source}")
    elif split_mode == "all":
        split = None
    else:
        split = make_split(split_mode, targets, snapshot.num_nodes("item"), seed)
        restrict_cold_user_interests(
            split, targets["user_interest"], targets["user_item"], snapshot.tag_events
        )
    settle_event_interests(snapshot, targets, split)
    pairs = training_pairs(targets, split)
    context = derive_context(snapshot, targets, split)
    texts = user_texts(snapshot, targets, pairs, use_profiles)
    users = np.asarray(encode_texts(texts), dtype=np.float32)
    items = np.asarray(encode_texts(context.item_texts), dtype=np.float32)
    return Prepared(snapshot, split, targets, pairs, users, items, context)


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
        prepared.snapshot,
        prepared.pairs,
        prepared.features,
        context_edges(prepared.snapshot, prepared.context),
        config.use_interests,
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
            cold_items=config.cold_items,
            exclude=frozenset(config.exclude),
            backend=config.backend,
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
        carried = (
            carried_interests(item_pairs, prepared.context.has_interest)
            if target == "user_interest"
            else None
        )
        tasks[target] = RankingTask(
            users=np.unique(held[0]),
            truth=held,
            exclude=exclude,
            num_candidates=n_dst,
            candidates=split.candidates.get(part),
            train_degree=np.bincount(train_pairs[1], minlength=n_dst).astype(np.float64),
            user_train_count=np.bincount(item_pairs[0], minlength=graph.num_nodes[src_type]),
            num_users=graph.num_nodes[src_type],
            embeddings=prepared.features[dst_type],
            carried=carried,
        )
    return tasks


def carried_interests(user_items: np.ndarray, item_interests: pd.DataFrame) -> np.ndarray:
    """``[2, C]`` (user, interest) pairs that some training item of the user carries, over the
    split's own item→interest edges: what an expanded interest is measured against."""
    joined = pd.DataFrame({"user": user_items[0], "src": user_items[1]}).merge(
        item_interests[["src", "dst"]], on="src"
    )
    return joined[["user", "dst"]].drop_duplicates().to_numpy(dtype=np.int64).T


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
        if isinstance(model, StaticScorer) and not model.supports(target):
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
    name: str,
    configs: dict[str, ModelConfig],
    graph: Graph,
    states: dict[str, dict[str, torch.Tensor]],
    ensembles: dict[str, dict[str, ModelConfig]] | None = None,
) -> PerTargetModel:
    """A :class:`PerTargetModel` of ``name`` with each target's configuration and weights
    (fresh modules, so the same call rebuilds a checkpoint's model from its state dict); a
    target in ``ensembles`` is a :class:`VariantEnsemble` of those members' configurations."""
    models = {}
    for target, state in states.items():
        members = (ensembles or {}).get(target)
        model = (
            VariantEnsemble({v: build_model(name, c, graph) for v, c in members.items()})
            if members
            else build_model(name, configs[target], graph)
        ).to(graph.id_mask["user"].device)
        model.load_state_dict(state)
        models[target] = model.eval()
    return PerTargetModel(models)


def load_trained(
    configs: dict[str, ModelConfig],
    graph: Graph,
    state: dict[str, torch.Tensor],
    ensembles: dict[str, dict[str, ModelConfig]] | None = None,
) -> PerTargetModel:
    """Our model from a checkpoint's state dict (``models.<target>.<parameter>`` keys), each
    target's configuration and, for an ensemble target, its members' configurations."""
    targets = sorted({key.split(".")[1] for key in state})
    split = {
        t: {k.split(".", 2)[2]: v for k, v in state.items() if k.split(".")[1] == t}
        for t in targets
    }
    return trained_model("ours", configs, graph, split, ensembles)


def train_model(
    name: str,
    prepared: Prepared,
    config: ModelConfig,
    device: torch.device,
    seed: int = 0,
    progress: bool = True,
    report: Callable[[int, float], None] | None = None,
    stop_at: dict[str, int] | None = None,
    graph: Graph | None = None,
) -> tuple[nn.Module, Graph, FitResult]:
    """Build and fit ``name`` on the training graph (static baselines need no fitting); a
    learned model comes back as a :class:`PerTargetModel` of each target's best weights
    (``stop_at``: of the given epochs instead, with no validation)."""
    torch.manual_seed(seed)
    graph = graph if graph is not None else graph_for(prepared, config).to(device)
    model = build_model(name, config, graph).to(device)
    if isinstance(model, StaticScorer):
        if name in CHOSEN_SETTINGS and stop_at is None:
            return model, graph, choose_setting(model, graph, prepared, device, seed)
        return model, graph, FitResult()
    val_tasks = ranking_tasks(prepared, graph, "val") if stop_at is None else {}
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
        stop_at=stop_at,
    )
    configs = dict.fromkeys(result.states, config)
    return trained_model(name, configs, graph, result.states), graph, result


#: the static baselines with one setting chosen per target on validation, as LightGCN's and
#: our epochs are: the scorer attribute it lives in, its name in ``train``'s JSON, the values
CHOSEN_SETTINGS: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "rp3beta": ("betas", "beta", RP3_BETAS),
    "ease": ("penalties", "penalty", EASE_PENALTIES),
    "whitened_content": ("shrinks", "shrink", WHITENING_SHRINKS),
}


def choose_setting(
    scorer: StaticScorer, graph: Graph, prepared: Prepared, device: torch.device, seed: int = 0
) -> FitResult:
    """Set ``scorer``'s setting (:data:`CHOSEN_SETTINGS`: ``rp3beta``'s popularity discount,
    ``ease``'s penalty) per target to the value that ranks best on validation (Recall@20; a tie
    goes to the smaller value), and return every value's validation figures: the baseline gets a
    validation choice as LightGCN and ours get theirs, from the same validation users."""
    attribute, _, values = CHOSEN_SETTINGS[scorer.kind]
    tasks = {
        target: task
        for target, task in ranking_tasks(prepared, graph, "val").items()
        if scorer.supports(target)
    }
    if not tasks:
        return FitResult()
    figures: dict[float, dict[str, float]] = {}
    for value in values:
        setattr(scorer, attribute, dict.fromkeys(tasks, value))
        scores = validation_scores(evaluate_model(scorer, graph, tasks, device, seed, False))
        figures[value] = {target: round(score, 5) for target, score in scores.items()}
    chosen = {
        target: max(values, key=lambda value: (figures[value][target], -value))
        for target in figures[values[0]]
    }
    setattr(scorer, attribute, chosen)
    return FitResult(
        best_values={target: figures[value][target] for target, value in chosen.items()},
        by_setting={str(value): scores for value, scores in figures.items()},
    )


@dataclass
class OursResult:
    """Our model after variant selection: per target the chosen variant, its configuration,
    best epoch and validation figure, and every variant's validation figures."""

    model: PerTargetModel
    graph: Graph
    chosen: dict[str, str]
    configs: dict[str, ModelConfig]
    best_epoch: dict[str, int]
    validation: dict[str, dict[str, float]]
    fits: dict[str, dict[str, Any]]
    #: the weights against the mix partners and the partners' settings, where chosen
    mix: MixChoice | None = None
    #: target → the variants ranking together (:class:`VariantEnsemble`) where validation chose
    #: an ensemble over the best single variant, and every ensemble size's validation figure
    ensembles: dict[str, list[str]] = field(default_factory=dict)
    validation_by_ensemble: dict[str, dict[str, float]] = field(default_factory=dict)
    #: every variant trained → its configuration
    variant_configs: dict[str, ModelConfig] = field(default_factory=dict)

    @property
    def scorer(self) -> nn.Module:
        """The model as it ranks: mixed with its partners where validation chose so."""
        return self.mix.scorer(self.model) if self.mix else self.model

    def summary(self) -> dict[str, Any]:
        summary = {
            "chosen_variant": self.chosen,
            "best_epoch": self.best_epoch,
            "validation_recall@20": self.validation,
            "variants": self.fits,
            "seconds": round(sum(f["seconds"] for f in self.fits.values()), 3),
        }
        if self.validation_by_ensemble:
            summary["ensemble"] = self.ensembles
            summary["validation_recall@20_by_ensemble_size"] = self.validation_by_ensemble
        if self.mix:
            for partner, weights in self.mix.weights.items():
                summary[f"{partner}_mix"] = weights
                summary[f"validation_recall@20_by_{partner}_weight"] = self.mix.figures[partner]
            summary.update(self.mix.setting_keys())
        return summary

    def members(self) -> dict[str, dict[str, tuple[ModelConfig, int]]]:
        """Target → each network it ranks with (variant → configuration, best epoch): what
        :func:`refit` retrains."""
        return {
            target: {
                v: (self.variant_configs[v], int(self.fits[v]["best_epoch"][target]))
                for v in self.ensembles.get(target, [variant])
            }
            for target, variant in self.chosen.items()
        }

    def ensemble_configs(self) -> dict[str, dict[str, ModelConfig]]:
        """Target → member → configuration, for the ensemble targets (what a checkpoint
        stores to rebuild them)."""
        return {t: {v: self.variant_configs[v] for v in m} for t, m in self.ensembles.items()}


def setting_key(partner: str) -> str:
    """Where a partner's chosen setting sits in ``train``'s JSON and a checkpoint's config:
    ``rp3beta_beta``, ``ease_penalty``."""
    return f"{partner}_{CHOSEN_SETTINGS[partner][1]}"


def mix_partners(graph: Graph, settings: dict[str, dict[str, float]]) -> dict[str, StaticScorer]:
    """Each of :data:`MIX_PARTNERS` on ``graph``, at its chosen setting where it has one
    (``settings``: partner → target → value, see :data:`CHOSEN_SETTINGS`)."""
    partners = {kind: StaticScorer(kind, graph) for kind in MIX_PARTNERS}
    for kind, values in settings.items():
        setattr(partners[kind], CHOSEN_SETTINGS[kind][0], dict(values))
    return partners


def with_mixes(
    model: nn.Module, mixes: dict[str, dict[str, float]], partners: dict[str, StaticScorer]
) -> nn.Module:
    """``model`` wrapped in a :class:`BaselineMix` per partner (in :data:`MIX_PARTNERS` order)
    that some target mixes in; as is when none does."""
    for kind in MIX_PARTNERS:
        weights = mixes.get(kind, {})
        if any(w < 1.0 for w in weights.values()):
            model = BaselineMix(model, weights, partners[kind])
    return model


@dataclass
class MixChoice:
    """What :func:`choose_mixes` chose on validation."""

    #: partner → target → the model's weight against it (1.0: the model alone)
    weights: dict[str, dict[str, float]]
    #: partner → weight → target → validation Recall@20 of every weight tried
    figures: dict[str, dict[str, dict[str, float]]]
    #: every partner at its chosen setting, with what it fitted (``ease``'s weights) kept, so
    #: ranking test users after the choice refits nothing, and the same baselines' own
    #: evaluation reuses them (:func:`run_experiment`)
    partners: dict[str, StaticScorer]
    #: partner → its setting's validation choice (:func:`choose_setting`), for those with one
    fits: dict[str, FitResult]

    def scorer(self, model: nn.Module) -> nn.Module:
        return with_mixes(model, self.weights, self.partners)

    @property
    def settings(self) -> dict[str, dict[str, float]]:
        """Partner → target → its chosen setting (:data:`CHOSEN_SETTINGS`), mixed in or not."""
        return {
            kind: dict(getattr(self.partners[kind], CHOSEN_SETTINGS[kind][0])) for kind in self.fits
        }

    def setting_keys(self) -> dict[str, dict[str, float]]:
        return {setting_key(kind): values for kind, values in self.settings.items()}


def choose_mixes(
    model: nn.Module,
    graph: Graph,
    prepared: Prepared,
    device: torch.device,
    seed: int = 0,
    min_users: int = MIX_MIN_USERS,
) -> MixChoice:
    """Each partner's setting as it ranks best alone on validation (:func:`choose_setting`),
    then per partner of :data:`MIX_PARTNERS` in turn each target's weight against it on top of
    the mixes chosen before (:func:`choose_mix`)."""
    partners = mix_partners(graph, {})
    fits = {
        kind: choose_setting(partner, graph, prepared, device, seed)
        for kind, partner in partners.items()
        if kind in CHOSEN_SETTINGS
    }
    weights: dict[str, dict[str, float]] = {}
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for kind in MIX_PARTNERS:
        weights[kind], figures[kind] = choose_mix(
            with_mixes(model, weights, partners),
            partners[kind],
            graph,
            prepared,
            device,
            seed,
            min_users,
        )
    return MixChoice(weights, figures, partners, fits)


def can_choose_mix(task: RankingTask, min_users: int = MIX_MIN_USERS) -> bool:
    """Whether ``task``'s validation edges are enough to choose a mix weight on: ``min_users``
    users, or :data:`MIX_MIN_PAIRS` held-out pairs however few users hold them."""
    return len(task.users) >= min_users or task.truth.shape[1] >= MIX_MIN_PAIRS


def choose_mix(
    model: nn.Module,
    partner: StaticScorer,
    graph: Graph,
    prepared: Prepared,
    device: torch.device,
    seed: int = 0,
    min_users: int = MIX_MIN_USERS,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per target, the weight of :data:`MIX_WEIGHTS` against ``partner`` whose mix ranks best
    on validation (Recall@20; ties go to the heavier model weight, so 1.0, the model alone,
    wins a tie), and every weight's figure (weight → target → Recall@20). A target with fewer
    than ``min_users`` validation users and :data:`MIX_MIN_PAIRS` held-out pairs
    (:func:`can_choose_mix`), or one the partner cannot score, keeps 1.0 untried."""
    every = ranking_tasks(prepared, graph, "val")
    tasks = {
        t: task
        for t, task in every.items()
        if can_choose_mix(task, min_users) and partner.supports(t)
    }
    if not tasks:
        return dict.fromkeys(every, 1.0), {}
    figures: dict[str, dict[str, float]] = {}
    for weight in MIX_WEIGHTS:
        mixed = BaselineMix(model, dict.fromkeys(tasks, weight), partner)
        scores = validation_scores(evaluate_model(mixed, graph, tasks, device, seed, full=False))
        figures[str(weight)] = {t: round(v, 5) for t, v in scores.items()}
    chosen = dict.fromkeys(every, 1.0)
    for target in tasks:
        best = max(figures[str(w)].get(target, 0.0) for w in MIX_WEIGHTS)
        chosen[target] = next(w for w in MIX_WEIGHTS if figures[str(w)].get(target) == best)
    return chosen, figures


def choose_ensemble(
    trained: dict[str, PerTargetModel],
    validation: dict[str, dict[str, float]],
    best: dict[str, float],
    graph: Graph,
    prepared: Prepared,
    device: torch.device,
    seed: int = 0,
) -> tuple[dict[str, list[str]], dict[str, dict[str, float]]]:
    """Per target, the top ``k`` variants by their own validation Recall@20 (``k`` = 2 … all)
    whose :class:`VariantEnsemble` ranks best on validation, where it beats ``best`` (the best
    single variant's figure; ties go to fewer networks); and each size's figure (``k`` →
    target → Recall@20). Only ``k`` is chosen, never weights, so a small validation set has
    little to overfit."""
    chosen: dict[str, list[str]] = {}
    figures: dict[str, dict[str, float]] = {}
    for target, task in ranking_tasks(prepared, graph, "val").items():
        ranked = sorted(
            (v for v in validation if target in validation[v]),
            key=lambda v: -validation[v][target],
        )
        if len(ranked) < 2 or not len(task.users):
            continue
        top = best[target]
        for k in range(2, len(ranked) + 1):
            ensemble = VariantEnsemble({v: trained[v].models[target] for v in ranked[:k]})
            metrics = evaluate_model(
                PerTargetModel({target: ensemble}), graph, {target: task}, device, seed, full=False
            )
            value = validation_scores(metrics).get(target, 0.0)
            figures.setdefault(str(k), {})[target] = round(value, 5)
            if value > top:
                top, chosen[target] = value, ranked[:k]
    return chosen, figures


def train_variants(
    prepared: Prepared,
    config: ModelConfig,
    device: torch.device,
    seed: int = 0,
    variants: tuple[str, ...] = tuple(VARIANTS),
    progress: bool = True,
    mix_min_users: int | None = None,
    ensemble: bool = True,
) -> OursResult:
    """Train each variant of ``config`` and keep, per target, the one with the best validation
    Recall@20 (ties go to the earlier variant in ``variants``) or, with ``ensemble``, the
    ensemble of the best few where validation prefers it (:func:`choose_ensemble`); with
    ``mix_min_users`` (the validation users a target needs, see :data:`MIX_MIN_USERS`), then
    choose each target's weight against each mix partner on validation too
    (:func:`choose_mixes`)."""
    graph = graph_for(prepared, config).to(device)
    trained_variants: dict[str, PerTargetModel] = {}
    variant_configs: dict[str, ModelConfig] = {}
    models: dict[str, nn.Module] = {}
    chosen: dict[str, str] = {}
    configs: dict[str, ModelConfig] = {}
    epochs: dict[str, int] = {}
    validation: dict[str, dict[str, float]] = {}
    fits: dict[str, dict[str, Any]] = {}
    best: dict[str, float] = {}
    for variant in variants:
        variant_cfg = variant_config(config, variant)
        trained, _, result = train_model(
            "ours", prepared, variant_cfg, device, seed, progress, graph=graph
        )
        trained_variants[variant], variant_configs[variant] = trained, variant_cfg
        fits[variant] = result.summary()
        validation[variant] = {t: round(v, 5) for t, v in result.best_values.items()}
        for target, value in result.best_values.items():
            if value > best.get(target, float("-inf")):
                best[target] = value
                chosen[target], configs[target] = variant, variant_cfg
                epochs[target] = result.best_epoch[target]
                models[target] = trained.models[target]
    ours = OursResult(PerTargetModel(models), graph, chosen, configs, epochs, validation, fits)
    ours.variant_configs = variant_configs
    if ensemble:
        ours.ensembles, ours.validation_by_ensemble = choose_ensemble(
            trained_variants, validation, best, graph, prepared, device, seed
        )
        for target, members in ours.ensembles.items():
            ours.model.models[target] = VariantEnsemble(
                {v: trained_variants[v].models[target] for v in members}
            )
    if mix_min_users is not None:
        ours.mix = choose_mixes(ours.model, graph, prepared, device, seed, mix_min_users)
    return ours


def refit(
    prepared_all: Prepared,
    members: dict[str, dict[str, tuple[ModelConfig, int]]],
    device: torch.device,
    seed: int = 0,
    progress: bool = True,
) -> tuple[PerTargetModel, Graph]:
    """Retrain on every edge (``prepared_all``: ``prepare(..., "all")``) each network a target
    ranks with (``members``: target → variant → configuration and the epoch validation
    picked, :meth:`OursResult.members`), one training per variant: the production model."""
    configs: dict[str, ModelConfig] = {}
    stop_at: dict[str, dict[str, int]] = {}
    for target, chosen in members.items():
        for variant, (config, epoch) in chosen.items():
            configs[variant] = config
            stop_at.setdefault(variant, {})[target] = epoch
    graph = graph_for(prepared_all, next(iter(configs.values()))).to(device)
    trained = {
        variant: train_model(
            "ours",
            prepared_all,
            configs[variant],
            device,
            seed,
            progress,
            stop_at=epochs,
            graph=graph,
        )[0]
        for variant, epochs in stop_at.items()
    }
    models: dict[str, nn.Module] = {}
    for target, chosen in members.items():
        networks = {v: trained[v].models[target] for v in chosen}
        models[target] = (
            VariantEnsemble(networks) if len(networks) > 1 else next(iter(networks.values()))
        )
    return PerTargetModel(models), graph


def run_experiment(
    prepared: Prepared,
    config: ModelConfig,
    device: torch.device,
    seed: int = 0,
    baselines: tuple[str, ...] = BASELINES,
    progress: bool = True,
    train_ours: bool = True,
    baseline_configs: dict[str, ModelConfig] | None = None,
    variants: tuple[str, ...] = tuple(VARIANTS),
    mix_min_users: int | None = None,
    ensemble: bool = True,
) -> tuple[dict[str, Any], OursResult | None]:
    """Train ours (choosing among ``variants``, and with ``mix_min_users`` its weights against
    the mix partners, on validation: see :func:`train_variants`) and the baselines, evaluate all
    on test: (metrics JSON, our model's result). A baseline runs with ``config`` unless
    ``baseline_configs`` has its own (tuned) one."""
    baseline_configs = baseline_configs or {}
    payload: dict[str, Any] = {
        "dataset": prepared.dataset,
        "split": prepared.split.mode,
        "model": f"hetero-{config.conv}",
        "seed": seed,
        "metrics": {},
        "baselines": {},
        "training": {},
    }

    def tested(model: nn.Module, graph: Graph) -> dict[str, Any]:
        # rank 0 alone evaluates; the other ranks of a distributed run only train
        if not current().primary:
            return {}
        return evaluate_model(model, graph, ranking_tasks(prepared, graph, "test"), device, seed)

    ours = None
    if train_ours:
        ours = train_variants(
            prepared, config, device, seed, variants, progress, mix_min_users, ensemble
        )
        payload["metrics"] = tested(ours.scorer, ours.graph)
        payload["training"]["ours"] = ours.summary()
    for name in baselines:
        if name in INTEREST_BASELINES and "interest" not in config_graph_types(prepared, config):
            continue
        if ours and ours.mix and name in ours.mix.partners and name not in baseline_configs:
            # the mix partner is this baseline, chosen on the same validation users: reused,
            # not fitted twice (EASE's weights cost minutes on a large catalogue)
            base, base_graph = ours.mix.partners[name], ours.graph
            base_result = ours.mix.fits.get(name, FitResult())
        else:
            base_config = baseline_configs.get(name, config)
            base, base_graph, base_result = train_model(
                name, prepared, base_config, device, seed, progress
            )
        payload["baselines"][name] = tested(base, base_graph)
        if name in LEARNED_BASELINES:
            payload["training"][name] = base_result.summary()
        elif name in CHOSEN_SETTINGS and base_result.by_setting:
            attribute, key, _ = CHOSEN_SETTINGS[name]
            payload["training"][name] = {
                key: getattr(base, attribute),
                f"validation_recall@20_by_{key}": base_result.by_setting,
            }
    payload["split_summary"] = prepared.split.summary() if prepared.split else None
    return payload, ours


def config_graph_types(prepared: Prepared, config: ModelConfig) -> set[str]:
    """Node types the graph of ``config`` holds."""
    has_interests = config.use_interests and prepared.snapshot.num_nodes("interest") > 0
    return {"user", "item", "interest"} if has_interests else {"user", "item"}
