"""Link decoders: a score for (source, destination) embedding pairs, and for whole matrices.

The dot product is the default (full ranking is one matrix product); the MLP over the
element-wise product is the option for relations a dot product cannot express, at the price of
scoring candidates chunk by chunk.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

MLP_CHUNK = 2048


class DotDecoder(nn.Module):
    """``score(u, v) = u · v``."""

    def pairs(self, src: Tensor, dst: Tensor) -> Tensor:
        return (src * dst).sum(-1)

    def matrix(self, src: Tensor, dst: Tensor) -> Tensor:
        return src @ dst.T


class MLPDecoder(nn.Module):
    """``score(u, v) = MLP(u ⊙ v) + u · v``: the dot product stays as a skip path, so the MLP
    learns a correction rather than the whole ranking."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def pairs(self, src: Tensor, dst: Tensor) -> Tensor:
        product = src * dst
        return self.mlp(product).squeeze(-1) + product.sum(-1)

    def matrix(self, src: Tensor, dst: Tensor) -> Tensor:
        chunks = []
        for start in range(0, dst.shape[0], MLP_CHUNK):
            block = dst[start : start + MLP_CHUNK]
            product = src.unsqueeze(1) * block.unsqueeze(0)
            chunks.append(self.mlp(product).squeeze(-1) + product.sum(-1))
        return torch.cat(chunks, dim=1)


def make_decoder(kind: str, dim: int) -> nn.Module:
    """``dot`` or ``mlp``."""
    if kind == "dot":
        return DotDecoder()
    if kind == "mlp":
        return MLPDecoder(dim)
    raise ValueError(f"decoder must be 'dot' or 'mlp', got {kind!r}")
