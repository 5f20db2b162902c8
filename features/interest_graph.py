"""The interest graph: for each interest, its top-N related interests by co-occurrence (Jaccard
over the items and users that hold both) and by name-and-kind embedding similarity.

Co-occurrence is computed a block of interests at a time as a sparse product
``Bᵀ B[:, block]`` (B = holders × interests, binary), so memory is block × (holders +
interests), never interests².
"""

from __future__ import annotations

import numpy as np
import torch

BLOCK = 1024


def cooccurrence_top_n(
    holders: np.ndarray,
    interests: np.ndarray,
    num_interests: int,
    top_n: int = 10,
    min_count: int = 3,
) -> list[tuple[int, int, float, int]]:
    """``(a, b, jaccard, count)`` for each interest's ``top_n`` partners with at least
    ``min_count`` shared holders."""
    pairs = np.unique(np.stack([holders, interests]), axis=1)
    num_holders = int(pairs[0].max()) + 1 if pairs.size else 0
    transposed = (
        torch.sparse_coo_tensor(
            torch.from_numpy(pairs[::-1].copy()),
            torch.ones(pairs.shape[1]),
            (num_interests, num_holders),
            check_invariants=False,
        )
        .coalesce()
        .to_sparse_csr()
    )
    counts = np.bincount(pairs[1], minlength=num_interests).astype(np.float32)
    out = []
    for start in range(0, num_interests, BLOCK):
        stop = min(num_interests, start + BLOCK)
        block = _rows(transposed, start, stop, num_holders)  # [block, holders], dense
        shared = (transposed @ block.T).T.numpy()  # [block, interests]
        union = counts[start:stop, None] + counts[None, :] - shared
        jaccard = np.where(shared >= min_count, shared / np.maximum(union, 1), 0.0)
        jaccard[np.arange(stop - start), np.arange(start, stop)] = 0.0
        for row, top in enumerate(_top(jaccard, top_n)):
            for col in top:
                if jaccard[row, col] > 0:
                    out.append(
                        (start + row, int(col), float(jaccard[row, col]), int(shared[row, col]))
                    )
    return out


def embedding_top_n(
    vectors: np.ndarray, top_n: int = 10, min_similarity: float = 0.5
) -> list[tuple[int, int, float]]:
    """``(a, b, cosine)`` for each interest's ``top_n`` nearest others above ``min_similarity``."""
    out = []
    for start in range(0, len(vectors), BLOCK):
        sims = vectors[start : start + BLOCK] @ vectors.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -1.0
        for row, top in enumerate(_top(sims, top_n)):
            for col in top:
                if sims[row, col] >= min_similarity:
                    out.append((start + row, int(col), float(sims[row, col])))
    return out


def _rows(csr: torch.Tensor, start: int, stop: int, width: int) -> torch.Tensor:
    crow = csr.crow_indices()
    lo, hi = int(crow[start]), int(crow[stop])
    rows = torch.repeat_interleave(
        torch.arange(stop - start), crow[start + 1 : stop + 1] - crow[start:stop]
    )
    dense = torch.zeros(stop - start, width)
    dense[rows, csr.col_indices()[lo:hi]] = csr.values()[lo:hi]
    return dense


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, scores.shape[1])
    part = (
        np.argpartition(-scores, n - 1, axis=1)[:, :n]
        if n < scores.shape[1]
        else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    )
    order = np.take_along_axis(scores, part, 1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, 1)
