"""Checkpoints: weights, configuration, id maps, the user features and the snapshot's hash.

A checkpoint is a folder::

    model.pt            state dict of our model (one network per target)
    config.json         model config, each target's chosen variant config (and, for a
                        target that ranks with an ensemble, each member's), split, seed,
                        snapshot hash and path, fit figures, whether it was refitted
    id_maps.json        node type → ids in row order (what row i of each embedding means)
    user_features.npy   the user text embeddings training used (built from training edges)
    trained_nodes.npz   per node type, which rows had a training edge: the only rows whose id
                        embedding was ever trained (``predict`` zeroes the others)
    metrics.json        the metrics JSON printed by ``train``

Loading against a snapshot with another content hash fails: the rows would not mean the same
nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gnn.graph import Graph
from graphdb.files import atomic_folder, read_or_raise
from graphdb.snapshot import NODE_TYPES, Snapshot
from training.choices import MIX_PARTNERS
from training.experiment import (
    CHOSEN_SETTINGS,
    ModelConfig,
    load_trained,
    mix_partners,
    setting_key,
    with_mixes,
)

FORMAT_VERSION = 2


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or made for another snapshot."""


@dataclass
class Checkpoint:
    folder: Path
    config: ModelConfig
    info: dict[str, Any]
    state: dict[str, torch.Tensor]
    user_features: np.ndarray
    trained_nodes: dict[str, np.ndarray]

    @property
    def target_configs(self) -> dict[str, ModelConfig]:
        """Each target's configuration (the variant validation chose for it), on the PyG
        backend whichever one trained it: the DGL backend's parameters and operator are the same
        (``tests/dgl``), so ``predict``, ``evaluate`` and the server need no DGL."""
        return {
            t: replace(ModelConfig.from_dict(c), backend="pyg")
            for t, c in self.info["target_models"].items()
        }

    @property
    def ensembles(self) -> dict[str, dict[str, ModelConfig]]:
        """Target → member variant → configuration, for the targets that rank with an
        ensemble of variants (``train`` chose it on validation); empty when none does."""
        return {
            t: {v: replace(ModelConfig.from_dict(c), backend="pyg") for v, c in members.items()}
            for t, members in self.info.get("ensembles", {}).items()
        }

    @property
    def mixes(self) -> dict[str, dict[str, float]]:
        """Mix partner → target → weight of the model against it chosen on validation
        (``train --content-mix``); empty weights for the model alone (a checkpoint from
        before the ``user_knn`` mix has only the content one)."""
        return {
            partner: {t: float(w) for t, w in self.info.get(f"{partner}_mix", {}).items()}
            for partner in MIX_PARTNERS
        }

    @property
    def partner_settings(self) -> dict[str, dict[str, float]]:
        """Mix partner → target → its setting chosen on validation (``rp3beta``'s popularity
        discount, ``ease``'s penalty); empty for a partner the checkpoint predates or that no
        mix was chosen for."""
        return {
            kind: {t: float(v) for t, v in self.info.get(setting_key(kind), {}).items()}
            for kind in CHOSEN_SETTINGS
        }

    def model(self, graph: Graph) -> nn.Module:
        """The trained networks on ``graph`` (ensembles included), without the mixes."""
        return load_trained(self.target_configs, graph, self.state, self.ensembles)

    def scorer(self, graph: Graph) -> nn.Module:
        """The trained model on ``graph``, mixed with its partners as chosen: what
        ``evaluate``, ``fairness``, ``predict`` and the server rank with."""
        partners = mix_partners(graph, self.partner_settings)
        return with_mixes(self.model(graph), self.mixes, partners)

    @property
    def uses_interests(self) -> bool:
        members = [c for m in self.ensembles.values() for c in m.values()]
        return any(c.use_interests for c in [*self.target_configs.values(), *members])

    @property
    def snapshot_hash(self) -> str:
        return str(self.info["snapshot_hash"])

    @property
    def snapshot_path(self) -> Path:
        return Path(self.info["snapshot_path"])


def save_checkpoint(
    folder: Path,
    model: nn.Module,
    config: ModelConfig,
    target_configs: dict[str, ModelConfig],
    trained_nodes: dict[str, torch.Tensor],
    snapshot: Snapshot,
    snapshot_path: Path,
    user_features: np.ndarray,
    info: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Write the checkpoint folder atomically (a crash leaves the previous one intact)."""
    with atomic_folder(folder) as staging:
        torch.save(model.state_dict(), staging / "model.pt")
        config_payload = {
            "format": FORMAT_VERSION,
            "model": config.to_dict(),
            "target_models": {t: c.to_dict() for t, c in target_configs.items()},
            "snapshot_hash": snapshot.content_hash,
            "snapshot_path": str(Path(snapshot_path).resolve()),
            "embedding_model": snapshot.manifest.get("embedding_model"),
            **info,
        }
        (staging / "config.json").write_text(json.dumps(config_payload, indent=2) + "\n")
        ids = {t: snapshot.nodes[t]["id"].astype(str).tolist() for t in NODE_TYPES}
        (staging / "id_maps.json").write_text(json.dumps(ids))
        np.save(staging / "user_features.npy", user_features)
        np.savez(
            staging / "trained_nodes.npz",
            **{t: m.detach().cpu().numpy() for t, m in trained_nodes.items()},
        )
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return Path(folder)


def load_checkpoint(folder: Path) -> Checkpoint:
    """Read a checkpoint folder; errors name the file."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.exists():
        raise CheckpointError(f"{config_path}: not found; is {folder} a checkpoint from `train`?")
    info = read_or_raise(config_path, lambda p: json.loads(p.read_text()), CheckpointError)
    if info.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path}: format {info.get('format')!r} is not {FORMAT_VERSION}"
        )
    state = read_or_raise(
        folder / "model.pt",
        lambda p: torch.load(p, map_location="cpu", weights_only=True),
        CheckpointError,
    )
    features = read_or_raise(folder / "user_features.npy", np.load, CheckpointError)

    def masks(path: Path) -> dict[str, np.ndarray]:
        with np.load(path) as stored:
            return {t: stored[t].astype(bool) for t in stored.files}

    trained = read_or_raise(folder / "trained_nodes.npz", masks, CheckpointError)
    return Checkpoint(folder, ModelConfig.from_dict(info["model"]), info, state, features, trained)


def check_snapshot(checkpoint: Checkpoint, snapshot: Snapshot, snapshot_folder: Path) -> None:
    """Fail clearly when the snapshot is not the one the checkpoint was trained on."""
    if snapshot.content_hash != checkpoint.snapshot_hash:
        raise CheckpointError(
            f"checkpoint {checkpoint.folder} was trained on snapshot "
            f"{checkpoint.snapshot_hash[:12]} ({checkpoint.snapshot_path}), but {snapshot_folder} "
            f"is {snapshot.content_hash[:12]}: pass the original --snapshot or train again"
        )
