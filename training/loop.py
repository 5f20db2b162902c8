"""The training loop shared by our model and the learned baselines.

Full-graph propagation every step (the graphs here fit in memory many times over; PyG's
neighbour samplers need pyg-lib, which PyPI lacks for current torch), mini-batches of
positive edges per target with uniformly sampled negatives that are never a known positive of
the user, BPR (default) or BCE loss, L2 on the batch's layer-0 embeddings (as LightGCN does),
early stopping on validation Recall@20 with the best weights restored (or, for ``--refit``, a
fixed epoch per target chosen earlier on validation), and bf16 autocast on CUDA.

Inside a process group (``train --distributed``, torchrun, Ray Train) the same loop is
data-parallel: every rank draws the same global batch and negatives, trains on its own slice
through DDP, and takes rank 0's validation figures (:mod:`training.distributed`).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from gnn.graph import TARGETS, Graph, rows
from training.distributed import broadcast, current, data_parallel, my_slice

LOSSES = ("bpr", "bce")
#: resampling rounds for negatives that hit a positive; what still collides is left out
NEGATIVE_ROUNDS = 20


@dataclass
class FitConfig:
    """Optimisation settings (tunable)."""

    lr: float = 5e-3
    reg: float = 1e-4
    batch_size: int = 4096
    epochs: int = 150
    patience: int = 4
    eval_every: int = 5
    loss: str = "bpr"
    interest_weight: float = 1.0
    cl_weight: float = 0.1
    cl_temperature: float = 0.2
    amp: bool = True


@dataclass
class FitResult:
    """Per target: the best validation Recall@20 and its epoch (``best_value`` is their mean,
    the tuning objective); ``states`` holds each target's best weights."""

    best_epoch: dict[str, int] = field(default_factory=dict)
    best_values: dict[str, float] = field(default_factory=dict)
    best_value: float = 0.0
    epochs_run: int = 0
    seconds: float = 0.0
    seconds_per_epoch: float = 0.0
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    #: a static baseline's validation choice instead of epochs: each setting it tried → target
    #: → validation Recall@20 (``rp3beta``'s discounts, ``ease``'s penalties)
    by_setting: dict[str, dict[str, float]] = field(default_factory=dict)
    states: dict[str, dict[str, Tensor]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, object]:
        """The JSON-able figures (everything but the weights)."""
        return {
            "best_epoch": self.best_epoch,
            "best_values": {t: round(v, 5) for t, v in self.best_values.items()},
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "seconds_per_epoch": self.seconds_per_epoch,
            "history": self.history,
        }


class Pruned(Exception):
    """Raised by a ``report`` callback to stop a hopeless trial (Optuna pruning)."""


def fit(
    model: nn.Module,
    graph: Graph,
    pairs: dict[str, Tensor],
    negatives: dict[str, Tensor],
    validate: Callable[[nn.Module], dict[str, float]],
    config: FitConfig,
    seed: int = 0,
    progress: bool = True,
    report: Callable[[int, float], None] | None = None,
    desc: str = "train",
    stop_at: dict[str, int] | None = None,
) -> FitResult:
    """Train ``model`` on ``pairs`` (target → ``[2, E]`` training edges, on the graph's device).

    ``negatives[target]`` holds the destination nodes negatives are drawn from. ``validate``
    returns validation Recall@20 per target. Early stopping is per target: each target keeps
    the weights of its own best epoch (the targets share an encoder, and on small relations
    such as MovieLens' 58 tagging users the interest target peaks long after the item target
    has begun to overfit). Training stops once no target has improved for ``patience``
    evaluations; the model is left with the first target's best weights.

    ``stop_at`` (target → epoch) replaces validation: each target keeps its weights of that
    epoch, and training ends at the last one (``--refit`` on every edge, where no validation
    edges are left).
    """
    if config.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {config.loss!r}")
    device = next(iter(graph.x.values()), graph.id_mask["user"]).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    targets = [t for t, p in pairs.items() if p.shape[1] > 0]
    known = {t: _sorted_keys(pairs[t], _width(graph, t)) for t in targets}
    epochs = max(stop_at.values()) if stop_at else config.epochs
    largest = max(pairs[t].shape[1] for t in targets)
    steps = max(1, math.ceil(largest / config.batch_size))
    use_amp = config.amp and device.type == "cuda"
    ranks = current()
    result = FitResult()
    started = time.perf_counter()
    bar = tqdm(
        range(1, epochs + 1),
        desc=desc,
        unit="epoch",
        file=sys.stderr,
        disable=not (progress and ranks.primary) or None,
    )
    stale = 0
    step_loss = data_parallel(StepLoss(model, graph, config), device)
    for epoch in bar:
        model.train()
        orders = {
            t: torch.randperm(pairs[t].shape[1], generator=generator).to(device) for t in targets
        }
        total = 0.0
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            # every rank draws the same global batch and negatives (same generator), then
            # trains on its own slice: N ranks see exactly what one process would
            batches = {}
            for target in targets:
                positive = pairs[target][:, _step_batch(orders[target], pairs[target], step, steps)]
                negative, valid = sample_negatives(
                    positive[0],
                    negatives[target],
                    known[target],
                    _width(graph, target),
                    generator,
                )
                mine = my_slice(torch.nonzero(valid).flatten())
                batches[target] = (positive[:, mine], negative[mine])
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = step_loss(batches)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        if stop_at is not None:
            for target, chosen in stop_at.items():
                if chosen == epoch:
                    result.best_epoch[target] = epoch
                    result.states[target] = copy.deepcopy(model.state_dict())
            bar.set_postfix(loss=f"{total / steps:.4f}")
        elif epoch % config.eval_every == 0 or epoch == config.epochs:
            model.eval()
            values = broadcast(validate(model) if ranks.primary else None)
            result.history.append((epoch, values))
            improved = False
            for target, value in values.items():
                if value > result.best_values.get(target, float("-inf")):
                    result.best_values[target], result.best_epoch[target] = value, epoch
                    result.states[target] = copy.deepcopy(model.state_dict())
                    improved = True
            stale = 0 if improved else stale + 1
            result.best_value = float(sum(result.best_values.values()) / len(result.best_values))
            bar.set_postfix(
                loss=f"{total / steps:.4f}", **{f"val_{t}": f"{v:.4f}" for t, v in values.items()}
            )
            if report is not None:
                report(epoch, float(sum(values.values()) / len(values)))
            if stale >= config.patience:
                result.epochs_run = epoch
                break
        result.epochs_run = epoch
    bar.close()
    if result.states:
        model.load_state_dict(next(iter(result.states.values())))
    model.eval()
    result.seconds = round(time.perf_counter() - started, 3)
    result.seconds_per_epoch = round(result.seconds / max(result.epochs_run, 1), 4)
    return result


def _step_batch(order: Tensor, pairs: Tensor, step: int, steps: int) -> Tensor:
    """This step's slice of an epoch's shuffled edge order (every target spreads its edges
    over the same number of steps, so the smaller relation gets smaller batches)."""
    size = math.ceil(pairs.shape[1] / steps)
    return order[step * size : (step + 1) * size]


def _width(graph: Graph, target: str) -> int:
    return graph.num_nodes[TARGETS[target][1]]


def _sorted_keys(pairs: Tensor, width: int) -> Tensor:
    """Training positives as sorted ``src * width + dst`` keys (for ``searchsorted``)."""
    return torch.sort(pairs[0] * width + pairs[1]).values


def _is_known(keys: Tensor, src: Tensor, dst: Tensor, width: int) -> Tensor:
    query = src * width + dst
    position = torch.searchsorted(keys, query).clamp(max=max(len(keys) - 1, 0))
    return keys[position] == query if len(keys) else torch.zeros_like(query, dtype=torch.bool)


def sample_negatives(
    src: Tensor, pool: Tensor, known: Tensor, width: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """One negative per source from ``pool``, resampled while it is a known positive of that
    source; returns (negatives, valid) where ``valid`` is False for the rare source whose
    draws all collided (its row is left out of the loss)."""

    def draw(count: int) -> Tensor:
        picks = torch.randint(0, len(pool), (count,), generator=generator).to(pool.device)
        return pool[picks]

    negative = draw(len(src))
    clash = _is_known(known, src, negative, width)
    for _ in range(NEGATIVE_ROUNDS):
        if not bool(clash.any()):
            break
        negative = negative.clone()
        negative[clash] = draw(int(clash.sum()))
        clash = _is_known(known, src, negative, width)
    return negative, ~clash


class StepLoss(nn.Module):
    """One step's loss over given positive edges and their negatives, as a module so that DDP
    can wrap it (DDP synchronises the gradients of what runs inside a wrapped forward)."""

    def __init__(self, model: nn.Module, graph: Graph, config: FitConfig):
        super().__init__()
        self.model, self.graph, self.config = model, graph, config

    def forward(self, batches: dict[str, tuple[Tensor, Tensor]]) -> Tensor:
        emb = self.model.embed(self.graph)
        # a zero term over every parameter: each one gets a gradient on every rank even when
        # this rank's slice of a relation is empty, which DDP's reducer requires
        loss = sum(p.sum() for p in self.model.parameters()) * 0.0
        for target, (positive, negative) in batches.items():
            if positive.shape[1] == 0:
                continue
            weight = self.config.interest_weight if target == "user_interest" else 1.0
            loss = loss + weight * self._pair_loss(emb, target, positive, negative)
        if self.config.cl_weight > 0 and hasattr(self.model, "auxiliary_loss"):
            edges = batches["user_item"][0]
            nodes = {"user": torch.unique(edges[0]), "item": torch.unique(edges[1])}
            extra = self.model.auxiliary_loss(emb, nodes, self.config.cl_temperature)
            if extra is not None:
                loss = loss + self.config.cl_weight * extra
        return loss

    def _pair_loss(
        self, emb: dict[str, Tensor], target: str, positive: Tensor, negative: Tensor
    ) -> Tensor:
        src_type, dst_type = TARGETS[target]
        src, dst = positive[0], positive[1]
        pos = self.model.pairs(emb, target, src, dst).float()
        neg = self.model.pairs(emb, target, src, negative).float()
        if self.config.loss == "bpr":
            loss = F.softplus(neg - pos).mean()
        else:
            loss = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos)) + (
                F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
            )
        ego = self.model.ego() if hasattr(self.model, "ego") else emb
        norm = (
            rows(ego[src_type], src).float().pow(2).sum()
            + rows(ego[dst_type], dst).float().pow(2).sum()
            + rows(ego[dst_type], negative).float().pow(2).sum()
        )
        return loss + self.config.reg * norm / (2 * len(src))
