"""Batch top-K scoring: every user against every candidate, in chunks of users.

Memory is bounded by ``chunk × candidates`` scores (the chunk is sized from a byte budget),
never by users × candidates. Known links are masked before ``topk``, so a user's K results
are all new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

DEFAULT_BUDGET_BYTES = 256 * 2**20


@dataclass
class TopK:
    users: np.ndarray  # [chunk] user rows
    items: np.ndarray  # [chunk, k] candidate rows, best first
    scores: np.ndarray  # [chunk, k] float32


def chunk_size(num_candidates: int, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> int:
    """Users per chunk so that a float32 score block (plus its mask) fits the budget."""
    return max(1, budget_bytes // max(1, num_candidates * 5))


def known_links(pairs: np.ndarray, num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR-style (offsets, destinations) of known links per user, for cheap per-chunk masks."""
    order = np.lexsort((pairs[1], pairs[0]))
    src, dst = pairs[0][order], pairs[1][order]
    offsets = np.searchsorted(src, np.arange(num_users + 1))
    return offsets, dst


def _mask_known(scores: Tensor, rows: Tensor, offsets: Tensor, dst: Tensor) -> None:
    """Set ``scores[i, j] = -inf`` for every known link (rows[i], j), with device-side indexing
    only (no per-user Python loop, no host round trip)."""
    starts = offsets[rows]
    counts = offsets[rows + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return
    row_index = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    first = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    cols = dst[first + torch.arange(total, device=rows.device)]
    scores[row_index, cols] = float("-inf")


def top_k(
    score: Callable[[Tensor], Tensor],
    users: np.ndarray,
    num_candidates: int,
    k: int,
    known: tuple[np.ndarray, np.ndarray] | None,
    device: torch.device,
    chunk: int | None = None,
) -> Iterator[TopK]:
    """Yield the top ``k`` unknown candidates of each chunk of ``users``.

    ``score(user_rows)`` returns ``[len(user_rows), num_candidates]`` scores on ``device``.
    """
    chunk = chunk or chunk_size(num_candidates)
    k = min(k, num_candidates)
    offsets = dst = None
    if known is not None:
        offsets = torch.from_numpy(known[0]).to(device)
        dst = torch.from_numpy(known[1]).to(device)
    for start in range(0, len(users), chunk):
        rows = torch.from_numpy(users[start : start + chunk]).to(device)
        with torch.no_grad():
            scores = score(rows).float()
            if offsets is not None:
                _mask_known(scores, rows, offsets, dst)
            best = scores.topk(k, dim=1)
        yield TopK(
            users[start : start + chunk], best.indices.cpu().numpy(), best.values.cpu().numpy()
        )
